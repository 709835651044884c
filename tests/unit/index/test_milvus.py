"""The milvus search backend against milvus-lite (a file in tmp, offline, deterministic):
builds, add/remove, versions and the alias swap, filters, reopening, errors naming the URI,
and the same answers as the local backend."""

from __future__ import annotations

import json
import shutil
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fakes import CORPUS, make_config

from rag.errors import IndexCorrupt, IndexMismatch, IndexUnavailable
from rag.index.builder import IndexBuilder
from rag.index.milvus import (
    MilvusBackend,
    connect,
    encode_token,
    forget_client,
    token_text,
)
from rag.index.reader import Index
from rag.pipeline import Pipeline

pytestmark = pytest.mark.milvus
QUESTIONS = ["陕西要求哪年前建成两法衔接平台?", "在利通区办营业执照找哪个部门?", "行政执法三项制度", "法治政府建设的主要目标",
             "重大行政决策程序", "政务公开"]


def milvus_config(index_dir, docs=CORPUS, **kw):
    return make_config(index_dir, docs, **{"index.backend": "milvus", **kw})


@pytest.fixture(scope="module")
def milvus_index(tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("milvus-index")
    cfg = milvus_config(index_dir)
    IndexBuilder(cfg).build(CORPUS, index_dir)
    return cfg, index_dir


def rows(index: Index) -> int:
    b = index.backend
    res = b.client.query(b.collection, filter="id >= 0", output_fields=["count(*)"])
    return int(res[0]["count(*)"])


# ---------------------------------------------------------------- tokens

@given(st.lists(st.text(min_size=1, max_size=6).map(str.lower), min_size=1, max_size=30))
def test_encoded_tokens_are_one_word_each_for_the_analyzer(tokens):
    """Milvus's analyzers see exactly our tokens: one `\\w+` word per token, and two
    different tokens never encode to the same word."""
    from milvus_lite.analyzer.standard import StandardAnalyzer

    tokens = [t for t in tokens if t.strip() and " " not in t]
    words = StandardAnalyzer().tokenize(token_text(tokens))
    assert len(words) == len(tokens)
    enc = {}
    for t, w in zip(tokens, words):
        assert enc.setdefault(w, t) == t


def test_bigram_and_word_stay_apart():
    assert encode_token("#两法") != encode_token("两法")
    assert encode_token("5.5%") == "5_x2e_5_x25_"


# ---------------------------------------------------------------- reading

def test_a_milvus_index_names_its_collection_and_counts(milvus_index):
    cfg, index_dir = milvus_index
    idx = Index.open(index_dir, cfg)
    man = idx.manifest
    assert man["backend"]["name"] == "milvus" and man["backend"]["alias"] == "rag_chunks"
    assert man["backend"]["bm25"] == {"k1": 1.2, "b": 0.75}
    assert isinstance(idx.backend, MilvusBackend) and idx.vectors is None and idx.lexical is None
    assert idx.backend.count_rows() == idx.store.count_chunks() == man["counts"]["chunks"] == 224
    assert not (index_dir / man["version"] / "vectors.faiss").exists()
    alias = idx.backend.client.describe_alias("rag_chunks")
    assert alias["collection_name"] == man["backend"]["collection"]


def test_milvus_finds_what_the_local_backend_finds(milvus_index, corpus_index):
    """Same tokens, same BM25 parameters, same vectors: the hybrid results agree."""
    cfg_m, dir_m = milvus_index
    cfg_l, dir_l = corpus_index
    pm, pl = Pipeline.from_config(cfg_m, dir_m), Pipeline.from_config(cfg_l, dir_l)
    same_top = 0
    for q in QUESTIONS:
        a = [(h.chunk.doc_id, h.chunk.chunk_id) for h in pm.search(q).hits]
        b = [(h.chunk.doc_id, h.chunk.chunk_id) for h in pl.search(q).hits]
        assert len(set(a) & set(b)) >= 3, q
        same_top += a[0] == b[0]
        tok = pl.index.tokenizer.tokens(q)
        lm = [i for i, _ in pm.index.backend.search_lexical(tok, 5)]
        ll = [i for i, _ in pl.index.backend.search_lexical(tok, 5)]
        cm = {c.id: c.chunk_id for c in pm.index.chunks(lm)}
        cl = {c.id: c.chunk_id for c in pl.index.chunks(ll)}
        assert cm[lm[0]] == cl[ll[0]], q  # the best BM25 chunk is the same
    assert same_top >= len(QUESTIONS) - 1
    tokens = pl.index.tokenizer.tokens("两法衔接平台 营业执照")
    assert pm.index.backend.doc_freq(tokens) == pl.index.backend.doc_freq(tokens)
    assert pm.index.backend.count() == pl.index.backend.count()


def test_document_filters_are_exact(milvus_index):
    cfg, index_dir = milvus_index
    pipe = Pipeline.from_config(cfg, index_dir)
    doc = pipe.index.documents()[1].doc_id
    r = pipe.search("法治政府建设", k=10, doc=doc)
    assert r.hits and {h.chunk.doc_id for h in r.hits} == {doc}
    tok = pipe.index.tokenizer.tokens("法治政府")
    assert {c.doc_id for c in pipe.index.chunks([i for i, _ in pipe.index.backend.search_lexical(tok, 50, {doc})])} == {doc}
    assert pipe.index.backend.search_dense([0.0] * 256, 5, set()) == []


def test_answers_match_the_local_backend(milvus_index, corpus_index):
    pm = Pipeline.from_config(*milvus_index)
    pl = Pipeline.from_config(*corpus_index)
    a, b = pm.ask("在利通区办营业执照找哪个部门?"), pl.ask("在利通区办营业执照找哪个部门?")
    assert "区市场监管局" in a.text and a.text == b.text and not a.refused


def test_it_survives_reopening(tmp_path):
    index_dir = tmp_path / "idx"
    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    cfg = milvus_config(index_dir, docs)
    IndexBuilder(cfg).build(docs, index_dir)
    before = [h.chunk.chunk_id for h in Pipeline.from_config(cfg, index_dir).search(QUESTIONS[0]).hits]
    forget_client(str(index_dir / "milvus.db"))  # as a new process would
    after = [h.chunk.chunk_id for h in Pipeline.from_config(cfg, index_dir).search(QUESTIONS[0]).hits]
    assert before == after and before


# ---------------------------------------------------------------- writing

@pytest.fixture()
def small_milvus(tmp_path, small_corpus):
    index_dir = tmp_path / "idx"
    cfg = milvus_config(index_dir, small_corpus, **{"index.keep_versions": 1})
    IndexBuilder(cfg).build(small_corpus, index_dir)
    return cfg, small_corpus, index_dir


def test_add_and_remove_change_the_collection_in_place_with_versions(small_milvus):
    cfg, docs, index_dir = small_milvus
    v1 = Index.open(index_dir, cfg)
    name = v1.manifest["backend"]["collection"]
    n1 = v1.store.count_chunks()
    extra = CORPUS / sorted(p.name for p in CORPUS.iterdir())[0]
    shutil.copy(extra, docs / extra.name)
    rep = IndexBuilder(cfg).add([docs / extra.name], docs, index_dir)
    assert rep.count("added") == 1
    v2 = Index.open(index_dir, cfg)
    assert v2.manifest["backend"]["collection"] == name and v2.manifest["backend"]["seq"] == 2
    added = next(d for d in rep.documents if d.status == "added").doc_id
    assert v2.backend.count_rows() == v2.store.count_chunks() > n1
    assert v1.backend.count_rows() == n1  # the old version still sees its own rows
    hits = Pipeline.from_config(cfg, index_dir).search("法治政府", k=5, doc=added).hits
    assert hits and all(h.chunk.doc_id == added for h in hits)
    IndexBuilder(cfg).remove([added], docs, index_dir)
    v3 = Index.open(index_dir, cfg)
    assert v3.backend.count_rows() == v3.store.count_chunks() == n1
    assert v3.backend.search_lexical(v3.tokenizer.tokens("法治政府"), 20, {added}) == []
    assert v2.backend.count_rows() > n1  # v2 is still kept for running readers
    # once no kept version sees them, the removed rows are deleted from the collection
    (docs / extra.name).unlink(missing_ok=True)
    IndexBuilder(cfg).build(docs, index_dir)
    IndexBuilder(cfg).build(docs, index_dir)
    assert rows(Index.open(index_dir, cfg)) == n1


def test_a_full_rebuild_is_a_new_collection_and_the_alias_moves(small_milvus):
    cfg, docs, index_dir = small_milvus
    old = Index.open(index_dir, cfg).manifest["backend"]["collection"]
    IndexBuilder(cfg).build(docs, index_dir, full=True)
    new_idx = Index.open(index_dir, cfg)
    new = new_idx.manifest["backend"]["collection"]
    client = new_idx.backend.client
    assert new != old and client.describe_alias("rag_chunks")["collection_name"] == new
    assert client.has_collection(old)  # the previous version may still be answering
    IndexBuilder(cfg).build(docs, index_dir, full=True)
    IndexBuilder(cfg).build(docs, index_dir, full=True)
    names = set(client.list_collections())
    assert old not in names and len([n for n in names if n.startswith("rag_chunks_v_")]) == 2


def test_a_failed_build_leaves_no_collection_and_the_old_version_serving(small_milvus, monkeypatch):
    cfg, docs, index_dir = small_milvus
    before = (index_dir / "manifest.json").read_text(encoding="utf-8")
    client = Index.open(index_dir, cfg).backend.client
    names = set(client.list_collections())

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("rag.index.milvus.MilvusWriter.finish", boom)
    with pytest.raises(RuntimeError):
        IndexBuilder(cfg).build(docs, index_dir, full=True)
    assert set(client.list_collections()) == names
    assert (index_dir / "manifest.json").read_text(encoding="utf-8") == before
    # and an in-place update that fails is undone
    extra = CORPUS / sorted(p.name for p in CORPUS.iterdir())[0]
    shutil.copy(extra, docs / extra.name)
    n = Index.open(index_dir, cfg).backend.count_rows()
    with pytest.raises(RuntimeError):
        IndexBuilder(cfg).add([docs / extra.name], docs, index_dir)
    monkeypatch.undo()
    idx = Index.open(index_dir, cfg)
    assert idx.backend.count_rows() == n and rows(idx) == n
    IndexBuilder(cfg).add([docs / extra.name], docs, index_dir)
    idx = Index.open(index_dir, cfg)
    assert idx.backend.count_rows() == idx.store.count_chunks() > n


def test_rebuilt_collections_swap_while_questions_are_answered(small_milvus):
    """Answer questions in threads while the collection is rebuilt and the alias swapped
    three times (and a document added and removed): no question fails, each answer is the
    one of the version it started on."""
    cfg, docs, index_dir = small_milvus
    cfg.answer.refusal_dense = 0
    pipe = Pipeline.from_config(cfg, index_dir)
    questions = ["营业执照找哪个部门?", "法治政府建设的主要目标", "行政执法三项制度", "政务公开"]
    expected = {q: pipe.ask(q).text for q in questions}
    errors, answered, stop = [], [], threading.Event()

    def ask_loop(k):
        i = 0
        while not stop.is_set() or i < 4:
            q = questions[(i + k) % len(questions)]
            try:
                pipe.reload_if_changed()
                a = pipe.ask(q)
                answered.append((q, a.text, pipe.index.version))
            except Exception as e:  # noqa: BLE001 - any failure is what the test looks for
                errors.append(f"{type(e).__name__}: {e}")
            i += 1

    threads = [threading.Thread(target=ask_loop, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            IndexBuilder(cfg).build(docs, index_dir, full=True)
        extra = CORPUS / sorted(p.name for p in CORPUS.iterdir())[0]
        shutil.copy(extra, docs / extra.name)
        rep = IndexBuilder(cfg).add([docs / extra.name], docs, index_dir)
        added = next(d for d in rep.documents if d.status == "added").doc_id
        IndexBuilder(cfg).remove([added], docs, index_dir)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors[:3]
    assert len(answered) >= 12
    for q, text, _ in answered:
        assert text == expected[q]  # the corpus is the same in every version
    assert len({v for _, _, v in answered}) >= 2  # questions ran on several versions
    # the threads may have stopped before the last change was published: the next question
    # (its reload) reaches the current version
    pipe.reload_if_changed()
    assert pipe.index.version == json.loads((index_dir / "manifest.json").read_text(encoding="utf-8"))["version"]
    assert pipe.ask(questions[0]).text == expected[questions[0]]


# ---------------------------------------------------------------- errors

def test_an_unreachable_server_is_one_line_naming_the_uri(milvus_index, tmp_path, monkeypatch, capsys):
    cfg, index_dir = milvus_index
    bad = milvus_config(index_dir, **{"index.uri": "http://127.0.0.1:9", "index.milvus_timeout": 1.0})
    with pytest.raises(IndexUnavailable) as e:
        Index.open(index_dir, bad)
    msg = str(e.value)
    assert "http://127.0.0.1:9" in msg and "\n" not in msg and "[index] uri" in msg
    with pytest.raises(IndexUnavailable, match="127.0.0.1:9"):
        IndexBuilder(bad).build(CORPUS, tmp_path / "other")
    from rag.cli import main

    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", cfg.embedding.backend)
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", cfg.embedding.model)
    monkeypatch.setenv("RAG_INDEX_BACKEND", "milvus")
    monkeypatch.setenv("RAG_INDEX_URI", "http://127.0.0.1:9")
    monkeypatch.setenv("RAG_INDEX_MILVUS_TIMEOUT", "1")
    assert main(["search", "两法衔接", "--index", str(index_dir)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "http://127.0.0.1:9" in err


def test_a_missing_collection_is_a_damaged_index(small_milvus):
    cfg, docs, index_dir = small_milvus
    idx = Index.open(index_dir, cfg)
    idx.backend.client.drop_collection(idx.manifest["backend"]["collection"])
    with pytest.raises(IndexCorrupt, match="make index"):
        Index.open(index_dir, cfg)
    IndexBuilder(cfg).build(docs, index_dir)  # a build does not start from the damaged version
    assert Index.open(index_dir, cfg).backend.count_rows() > 0


def test_switching_backends_asks_for_a_rebuild(milvus_index, corpus_index):
    cfg_m, dir_m = milvus_index
    cfg_l, dir_l = corpus_index
    with pytest.raises(IndexMismatch, match="backend"):
        Index.open(dir_l, milvus_config(dir_l))
    with pytest.raises(IndexMismatch, match="backend"):
        Index.open(dir_m, make_config(dir_m))


def test_a_lite_file_shares_one_client_per_process(milvus_index):
    cfg, index_dir = milvus_index
    uri = str(index_dir / "milvus.db")
    assert connect(uri) is connect(uri)


def test_the_app_shows_an_unreachable_server(milvus_index):
    from rag.app.launch import open_pipeline

    cfg, index_dir = milvus_index
    bad = milvus_config(index_dir, **{"index.uri": "http://127.0.0.1:9", "index.milvus_timeout": 1.0})
    got = open_pipeline(bad, index_dir)  # what the page's status line shows
    assert isinstance(got, IndexUnavailable) and "http://127.0.0.1:9" in str(got)


def test_backend_flag_uses_its_own_folder(tmp_path):
    from rag.cli import _config, build_parser

    args = build_parser().parse_args(["search", "q", "--backend", "milvus"])
    cfg = _config(args)
    assert cfg.index.backend == "milvus" and cfg.index.dir.endswith("-milvus")
    args = build_parser().parse_args(["search", "q", "--backend", "milvus", "--index", str(tmp_path)])
    assert _config(args).index.dir == str(tmp_path)
