"""Hybrid retrieval: Chinese lexical scoring, fusion, region awareness, filters, reranking."""

import pytest

from rag.errors import QuestionError, RerankError
from rag.models.rerank import CrossEncoderReranker, make_reranker
from rag.retrieve.fusion import rrf
from rag.retrieve.hybrid import HybridRetriever
from rag.retrieve.query import analyse, prepare


def test_chinese_tokens_score_above_zero(pipeline):
    toks = pipeline.index.tokenizer.tokens("陕西要求哪年前建成两法衔接平台")
    assert "衔接" in toks and "#衔接" in toks and "的" not in toks
    scores = pipeline.index.lexical.scores(pipeline.index.tokenizer.tokens("两法衔接平台"))
    assert scores.max() > 0


def test_rrf_values():
    fused = rrf([[1, 2], [2, 3]], [1.0, 0.5], k=10)
    assert fused[1] == pytest.approx(1 / 11)
    assert fused[2] == pytest.approx(1 / 12 + 0.5 / 11)
    assert fused[3] == pytest.approx(0.5 / 12)


def test_traditional_question_retrieves_like_simplified(pipeline):
    a = [h.chunk.id for h in pipeline.search("陕西省要求哪年前建成行政执法与刑事司法衔接平台?", 5).hits]
    b = [h.chunk.id for h in pipeline.search("陝西省要求哪年前建成行政執法與刑事司法銜接平臺?", 5).hits]
    assert a == b
    top = pipeline.index.chunks([a[0]])[0]
    assert "两法衔接" in top.text


def test_named_region_ranks_its_documents_first(pipeline):
    hits = pipeline.search("利通区推进政务公开有什么要求", 5).hits
    assert all(h.chunk.doc_id.startswith("002") for h in hits[:3])
    hits = pipeline.search("宁夏推进政务公开有什么要求", 5).hits
    assert hits[0].chunk.doc_id.startswith("000")


def test_region_awareness_can_be_switched_off(pipeline):
    plain = HybridRetriever(pipeline.index, pipeline.embedding, pipeline.cfg.retrieval, region_aware=False)
    aware = pipeline.retriever
    q = "五原县法治政府建设"
    assert aware.search(q, 1).hits[0].chunk.doc_id.startswith("004")
    assert plain.cfg.region_aware is False and aware.cfg.region_aware is True


def test_question_naming_two_places_gets_both_in_the_top_ranks(pipeline):
    hits = pipeline.search("宁夏和陕西的法治政府建设实施方案分别管哪几年?", 5).hits
    assert {h.chunk.doc_id[:3] for h in hits[:2]} == {"000", "003"}


def test_place_outside_the_corpus_is_signalled(pipeline):
    docs = pipeline.index.documents()
    a = analyse("北京市法治政府建设实施方案的目标", docs)
    assert a.unknown_places == ["北京市"] and not a.doc_match and a.out_of_corpus_place
    a = analyse("张家口市的方案", docs)
    assert a.unknown_places == ["张家口市"]
    a = analyse("吴忠市的法治政府建设", docs)
    assert a.doc_match and not a.unknown_places  # 利通区 lies inside 吴忠市


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_filters_are_exact_in_every_mode(pipeline, mode):
    r = HybridRetriever(pipeline.index, pipeline.embedding, pipeline.cfg.retrieval, mode=mode)
    res = r.search("行政复议", 10, region="宁夏")
    assert res.hits and {h.chunk.doc_id[:3] for h in res.hits} <= {"000", "002"}
    res = r.search("行政复议", 10, doc="利通区")
    assert {h.chunk.doc_id[:3] for h in res.hits} == {"002"}


def test_bad_questions_are_refused_before_retrieval():
    with pytest.raises(QuestionError):
        prepare("   \n\t")
    with pytest.raises(QuestionError):
        prepare("???!!!。。。")
    q, truncated = prepare("营业执照" * 6000, max_chars=2000)
    assert truncated and len(q) == 2000
    q, _ = prepare("营业\x00执照\x1b")
    assert q == "营业执照"


class KeywordCrossEncoder:
    """A stand-in for a sentence-transformers CrossEncoder: scores by a keyword."""

    def __init__(self, keyword):
        self.keyword = keyword
        self.calls = 0

    def predict(self, pairs, batch_size=16):
        self.calls += 1
        return [float(p.count(self.keyword)) for _, p in pairs]


def test_reranker_reorders_the_head(pipeline):
    model = KeywordCrossEncoder("行政复议")
    r = HybridRetriever(pipeline.index, pipeline.embedding, pipeline.cfg.retrieval,
                        reranker=CrossEncoderReranker(model), rerank_candidates=10)
    hits = r.search("法治政府建设的监督", 5).hits
    assert model.calls == 1
    counts = [h.chunk.text.count("行政复议") for h in hits]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0


def test_unavailable_reranker_fails_fast_with_the_setting(tmp_path):
    with pytest.raises(RerankError, match="rerank_model"):
        make_reranker(str(tmp_path / "no-such-model"))
    with pytest.raises(RerankError, match="offline|rerank_model"):
        make_reranker("BAAI/bge-reranker-base")


def test_the_llama_index_path_is_the_real_one(pipeline):
    """`retrieve` (BaseRetriever → _retrieve) gives the fused candidates as nodes with offsets into
    the document; `search` is retrieve + the postprocessors, and its hits are those nodes."""
    from rag.retrieve.figures import FigureMatch
    from rag.retrieve.places import PlaceInterleave, RegionTiers

    r = pipeline.retriever
    nodes = r.retrieve("陕西要求哪年前建成两法衔接平台?")
    assert nodes and nodes[0].score == 1.0 and all(a.score >= b.score for a, b in zip(nodes, nodes[1:]))
    n = nodes[0].node
    assert pipeline.index.document(n.metadata["doc_id"]).text[n.start_char_idx:n.end_char_idx] == n.text
    steps = r.postprocessors(filtered=False)
    assert [type(s) for s in steps] == [FigureMatch, RegionTiers, PlaceInterleave]
    query = r.scoped("陕西要求哪年前建成两法衔接平台?")
    ranked = r.retrieve(query)
    for s in steps:
        ranked = s.postprocess_nodes(ranked, query)
    hits = pipeline.search("陕西要求哪年前建成两法衔接平台?", 5).hits
    assert [h.chunk.chunk_id for h in hits] == [x.node.node_id for x in ranked[:5]]
    assert all(h.chunk.doc_id.startswith("003") for h in hits[:3])  # the named place's plan first
    # an explicit filter replaces the region tiers; quoted figures still count
    assert [type(s) for s in r.postprocessors(filtered=True)] == [FigureMatch]


def test_search_restricted_to_doc_ids(pipeline):
    """doc_ids restricts both retrievers to those documents (not a cut of the results); it
    combines with the region filter; an empty set finds nothing."""
    docs = [d.doc_id for d in pipeline.index.documents()]
    only = {docs[2], docs[4]}
    hits = pipeline.search("法治政府建设 依法行政", 30, doc_ids=only).hits
    assert hits and {h.chunk.doc_id for h in hits} == only
    assert pipeline.search("两法衔接平台", 5, doc_ids=set()).hits == []
    assert {h.chunk.doc_id for h in pipeline.search("法治", 20, region="宁夏", doc_ids=only).hits} == {docs[2]}


def test_repeated_questions_reuse_their_embedding(corpus_index):
    from support.fakes import BigramEmbedding

    from rag.index.reader import Index

    cfg, index_dir = corpus_index
    calls = []

    class Counting(BigramEmbedding):
        def _get_query_embedding(self, query):
            calls.append(query)
            return super()._get_query_embedding(query)

    r = HybridRetriever(Index.open(index_dir, cfg), Counting(model_name="bigram-256"), cfg.retrieval)
    a = [h.chunk.id for h in r.search("两法衔接平台").hits]
    b = [h.chunk.id for h in r.search("两法衔接平台").hits]
    assert a == b and len(calls) == 1
    r.search("营业执照")
    assert len(calls) == 2
