"""Index behaviour that matters at scale (no timing assertions: `make bench` prints numbers).

- the FAISS type follows the configuration (auto: exact below ann_threshold) and is recorded
  in the manifest;
- approximate indexes find what exact search finds (recall@10 ≥ 0.9);
- removing a document removes its vectors, for every index type;
- adding a document embeds only its chunks, and a rebuild takes vectors from the cache;
- opening a 20k-chunk index reads no chunk text wholesale;
- the numpy BM25 scores like bm25s, updates like a rebuild, and question tokenization without
  jieba's full dictionary gives the same tokens.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from support.fakes import CORPUS, BigramEmbedding, make_config

from rag.config import load_config
from rag.index import lexical
from rag.index.builder import IndexBuilder
from rag.index.layout import read_manifest
from rag.index.reader import Index
from rag.index.store import ChunkStore
from rag.index.vectors import ChunkVectorStore, choose_kind, make_faiss_index
from rag.text.tokenize import Tokenizer, full_segmenter, write_dictionary

KINDS = ("flat", "ivf", "hnsw")


class CountingEmbedding(BigramEmbedding):
    """The fake embedding, counting the passages it embeds."""

    calls: int = 0
    texts: int = 0

    def _get_text_embedding(self, text: str) -> list[float]:
        self.calls += 1
        self.texts += 1
        return self._vec(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        self.texts += len(texts)
        return [self._vec(t) for t in texts]


def _clustered(n: int, dim: int = 64, centers: int = 60, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.standard_normal((centers, dim)).astype(np.float32)
    v = c[rng.integers(0, centers, n)] + 0.35 * rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _docs(tmp_path: Path, names: list[str]) -> Path:
    d = tmp_path / "docs"
    d.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(CORPUS / name, d / name)
    return d


def _corpus_files() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.is_file())


# ---------------------------------------------------------------- index type by size

@pytest.mark.parametrize("setting, threshold, expected", [
    ("auto", 100_000, "flat"),  # below the threshold: exact
    ("auto", 50, "ivf"),  # above it: approximate (IVF)
    ("hnsw", 100_000, "hnsw"),  # forced by configuration
    ("flat", 50, "flat"),
])
def test_faiss_type_follows_configuration_and_is_in_manifest(tmp_path, setting, threshold, expected):
    docs = _docs(tmp_path, _corpus_files()[2:4])
    cfg = make_config(tmp_path / "index", docs, **{"index.faiss": setting, "index.ann_threshold": threshold})
    report = IndexBuilder(cfg).build(docs, tmp_path / "index")
    assert report.faiss == expected
    manifest = read_manifest(tmp_path / "index")
    assert manifest["faiss"]["kind"] == expected
    assert manifest["faiss"]["setting"] == setting and manifest["faiss"]["ann_threshold"] == threshold
    idx = Index.open(tmp_path / "index", cfg)
    assert idx.vectors.kind == expected
    assert len(idx.vectors) == report.chunks == len(idx.lexical)


def test_crossing_the_threshold_converts_the_index(tmp_path):
    names = _corpus_files()
    docs = _docs(tmp_path, names[:1])  # a small first document
    index_dir = tmp_path / "index"
    cfg = make_config(index_dir, docs, **{"index.ann_threshold": 120})
    first = IndexBuilder(cfg).build(docs, index_dir)
    assert first.faiss == "flat" and first.chunks < 120
    shutil.copy(CORPUS / names[2], docs / names[2])  # the long document: now above 120 chunks
    second = IndexBuilder(cfg).build(docs, index_dir)
    assert second.chunks >= 120 and second.faiss == "ivf"
    assert read_manifest(index_dir)["faiss"]["kind"] == "ivf"
    assert len(Index.open(index_dir, cfg).vectors) == second.chunks


def test_choose_kind():
    assert choose_kind("auto", 10, 100) == "flat"
    assert choose_kind("auto", 100, 100) == "ivf"
    assert choose_kind("hnsw", 10, 100) == "hnsw"
    with pytest.raises(ValueError):
        choose_kind("annoy", 10, 100)


# ---------------------------------------------------------------- recall of approximate search

@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_recall_at_10_against_exact(kind):
    vecs = _clustered(4000)
    ids = np.arange(1000, 5000, dtype=np.int64)
    queries = _clustered(60, seed=1)
    exact = ChunkVectorStore(make_faiss_index(vecs.shape[1], "flat"))
    exact.add_vectors(ids, vecs)
    ann = ChunkVectorStore(make_faiss_index(vecs.shape[1], kind, train=vecs, n_expected=len(vecs)))
    ann.add_vectors(ids, vecs)
    recalls = []
    for q in queries:
        want = set(exact.search(q, 10)[0].tolist())
        got = set(ann.search(q, 10)[0].tolist())
        recalls.append(len(want & got) / 10)
    assert np.mean(recalls) >= 0.9


# ---------------------------------------------------------------- removal

@pytest.mark.parametrize("kind", KINDS)
def test_remove_ids_from_every_index_type(kind):
    vecs = _clustered(3000)
    ids = np.arange(10, 3010, dtype=np.int64)
    store = ChunkVectorStore(make_faiss_index(vecs.shape[1], kind, train=vecs, n_expected=len(vecs)))
    store.add_vectors(ids, vecs)
    gone = ids[500:560]
    assert store.remove_ids(gone) == len(gone)
    assert len(store) == len(ids) - len(gone)
    for i in range(500, 560):  # a removed vector's own query never finds it
        found = store.search(vecs[i], 20)[0]
        assert not set(found.tolist()) & set(gone.tolist())
    # and a search limited to ids (the filter path) skips them too
    found = store.search(vecs[510], 10, allowed=ids[400:700])[0]
    assert len(found) and not set(found.tolist()) & set(gone.tolist())


@pytest.mark.parametrize("kind", KINDS)
def test_removing_a_document_removes_its_vectors(tmp_path, kind):
    names = _corpus_files()[1:4]
    docs = _docs(tmp_path, names)
    index_dir = tmp_path / "index"
    cfg = make_config(index_dir, docs, **{"index.faiss": kind, "index.ann_threshold": 50})
    IndexBuilder(cfg).build(docs, index_dir)
    before = Index.open(index_dir, cfg)
    victim = Path(names[1]).name  # doc ids keep the extension
    victim_chunks = before.store.doc_chunks(victim)
    victim_ids = {c.id for c in victim_chunks}
    assert victim_ids
    n_before = len(before.vectors)
    report = IndexBuilder(cfg).remove([victim], docs, index_dir)
    assert report.count("removed") == 1
    after = Index.open(index_dir, cfg)
    assert after.vectors.kind == kind
    assert len(after.vectors) == len(after.lexical) == n_before - len(victim_ids) == after.store.count_chunks()
    ids, _ = after.vectors.all_vectors()
    assert not victim_ids & set(ids.tolist())
    model = BigramEmbedding()
    for c in victim_chunks[:15]:
        q = np.asarray(model.get_text_embedding(c.text), dtype=np.float32)
        assert not victim_ids & set(after.vectors.search(q, 20)[0].tolist())
        assert not victim_ids & {cid for cid, _ in after.lexical.search(after.tokenizer.tokens(c.text), 20)}


def test_plain_faiss_vector_store_cannot_delete_ours_can():
    """Why ChunkVectorStore exists: the stock store has no working delete by node."""
    import faiss
    from llama_index.core.schema import TextNode
    from llama_index.vector_stores.faiss import FaissVectorStore

    vecs = _clustered(50, dim=8)
    plain = FaissVectorStore(faiss_index=faiss.IndexFlatIP(8))
    plain.add([TextNode(id_=f"n{i}", text="x", embedding=v.tolist()) for i, v in enumerate(vecs)])
    with pytest.raises(Exception):
        plain.delete_nodes(["n1"])
    ours = ChunkVectorStore(make_faiss_index(8, "flat"))
    ours.add([TextNode(id_=f"n{i}", text="x", embedding=v.tolist(), metadata={"vid": 100 + i})
              for i, v in enumerate(vecs)])
    ours.delete_nodes(["101"])
    assert len(ours) == 49 and 101 not in ours.all_vectors()[0].tolist()


# ---------------------------------------------------------------- incremental add and the cache

def test_adding_a_document_embeds_only_its_chunks_and_rebuild_hits_cache(tmp_path):
    names = _corpus_files()
    docs = _docs(tmp_path, [names[0], names[4]])
    index_dir = tmp_path / "index"
    cfg = make_config(index_dir, docs)
    emb = CountingEmbedding()
    first = IndexBuilder(cfg, embed_model=emb).build(docs, index_dir)
    assert first.embedded == first.chunks == emb.texts
    shutil.copy(CORPUS / names[1], docs / names[1])
    emb.texts = 0
    added = IndexBuilder(cfg, embed_model=emb).add([docs / names[1]], docs, index_dir)
    new_doc = next(d for d in added.documents if d.status == "added")
    assert emb.texts == added.embedded == new_doc.chunks  # only the new document's chunks
    assert added.cached == 0 and added.chunks == first.chunks + new_doc.chunks
    # a full rebuild (new version from scratch) embeds nothing: every vector is in the cache
    emb.texts = 0
    rebuilt = IndexBuilder(cfg, embed_model=emb).build(docs, index_dir, full=True)
    assert emb.texts == 0 and rebuilt.embedded == 0 and rebuilt.cached == rebuilt.chunks == added.chunks
    # the incremental index and the rebuilt one agree (lexical arrays updated in place)
    inc_cfg = make_config(index_dir, docs)
    idx = Index.open(index_dir, inc_cfg)
    assert len(idx.lexical) == len(idx.vectors) == rebuilt.chunks


def test_changing_a_document_reembeds_only_changed_text(tmp_path):
    names = _corpus_files()
    docs = _docs(tmp_path, [names[0], names[3]])
    index_dir = tmp_path / "index"
    cfg = make_config(index_dir, docs)
    emb = CountingEmbedding()
    IndexBuilder(cfg, embed_model=emb).build(docs, index_dir)
    p = docs / names[3]
    text = p.read_text(encoding="utf-8")
    cut = text.index("。", len(text) // 2) + 1  # inside the body (the cleaner drops trailing boilerplate)
    p.write_text(text[:cut] + "新增一条测试措施,用于检查增量更新。" + text[cut:], encoding="utf-8")
    emb.texts = 0
    report = IndexBuilder(cfg, embed_model=emb).add([p], docs, index_dir)
    assert report.count("updated") == 1
    assert 0 < emb.texts == report.embedded < 5  # the changed chunk(s) only; the rest from the cache
    assert report.cached > 20


def test_incremental_lexical_equals_rebuild(tmp_path, corpus_index):
    cfg, index_dir = corpus_index
    store = ChunkStore(index_dir / read_manifest(index_dir)["version"] / "store.sqlite")
    toks, ids = store.tokens_and_ids()
    full = lexical.LexicalIndex.build(toks, ids)
    half = len(ids) // 2
    grown = lexical.LexicalIndex.build(toks[:half], ids[:half]).updated([], ids[half:], toks[half:])
    drop = set(ids[10:60])
    shrunk = full.updated(drop, [], [])
    kept = [(i, t) for i, t in zip(ids, toks) if i not in drop]
    rebuilt = lexical.LexicalIndex.build([t for _, t in kept], [i for i, _ in kept])
    for q in ["行政执法公示", "法治政府建设", "行政复议 案件", "营业执照 办理"]:
        assert np.allclose(grown.scores(q), full.scores(q), atol=1e-5)
        assert np.allclose(shrunk.scores(q), rebuilt.scores(q), atol=1e-5)
        assert [c for c, _ in shrunk.search(q, 10)] == [c for c, _ in rebuilt.search(q, 10)]


def test_numpy_bm25_scores_like_bm25s(corpus_index):
    bm25s = pytest.importorskip("bm25s")
    cfg, index_dir = corpus_index
    store = ChunkStore(index_dir / read_manifest(index_dir)["version"] / "store.sqlite")
    toks, ids = store.tokens_and_ids()
    ref = bm25s.BM25(k1=1.2, b=0.75)
    ref.index([t or [""] for t in toks], show_progress=False)
    ours = lexical.LexicalIndex.build(toks, ids)
    for q in ["利通区行政执法公示由哪个部门负责", "宁夏五级网上政务全覆盖", "陕西 法治督察", "nothing"]:
        tokens = Tokenizer().tokens(q)
        want = np.asarray(ref.get_scores_from_ids(ref.get_tokens_ids(tokens)), dtype=np.float32)
        assert np.allclose(ours.scores(tokens), want, atol=1e-4)


def test_lexical_filter_by_allowed_ids(corpus_index):
    cfg, index_dir = corpus_index
    idx = Index.open(index_dir, cfg)
    allowed = np.asarray(idx.store.chunk_ids([idx.documents()[0].doc_id]), dtype=np.int64)
    tokens = idx.tokenizer.tokens("法治政府建设")
    res = idx.lexical.search(tokens, 10, allowed)
    assert res and all(cid in set(allowed.tolist()) for cid, _ in res)
    assert idx.lexical.search(tokens, 10, set(allowed.tolist())) == res
    assert idx.lexical.search(tokens, 10, np.zeros(0, np.int64)) == []


def test_question_tokens_without_full_dictionary(tmp_path, corpus_index):
    """The SQLite copy of jieba's prefix dictionary segments exactly like the real one."""
    cfg, index_dir = corpus_index
    path = write_dictionary(tmp_path / "dict.sqlite")
    texts = [c.text for c in Index.open(index_dir, cfg).store.iter_chunks()][:60]
    texts += ["利通区行政执法公示由哪个部门负责?", "宁夏要求什么时候前实现区市县乡村五级网上政务全覆盖?"]
    light = Tokenizer(path).light_segmenter()
    full = full_segmenter()  # the whole dictionary, for the reference
    for t in texts:
        assert light.lcut_for_search(t) == full.lcut_for_search(t)


# ---------------------------------------------------------------- opening a large index

def test_open_20k_chunk_index_reads_no_chunk_text(tmp_path, corpus_index, monkeypatch):
    from rag.bench.synthetic import SyntheticCorpus, write_synthetic_index

    cfg, index_dir = corpus_index
    corpus = SyntheticCorpus(index_dir, cfg, sigma=0.05)
    big = tmp_path / "big"
    info = write_synthetic_index(corpus, 20_000, big, cfg)
    assert info["n_chunks"] == 20_000 and info["n_documents"] > 400
    manifest = read_manifest(big)
    assert len(manifest["documents"]) == info["n_documents"]
    assert read_manifest(big)["version"] == manifest["version"]  # parsed once, then cached by file version

    def forbidden(*a, **k):
        raise AssertionError("chunk rows read wholesale while opening or searching")

    for name in ("iter_chunks", "tokens_and_ids", "iter_tokens", "embed_rows"):
        monkeypatch.setattr(ChunkStore, name, forbidden)
    idx = Index.open(big, cfg)  # the manifest is cached; nothing else large is parsed
    monkeypatch.setattr(json, "loads", _guard(json.loads))
    idx = Index.open(big, cfg)
    assert len(idx.vectors) == len(idx.lexical) == 20_000
    assert isinstance(idx.lexical.rows, np.memmap)  # mapped, not read
    from rag.retrieve.hybrid import HybridRetriever

    r = HybridRetriever(idx, BigramEmbedding()).search("利通区行政执法公示由哪个部门负责", k=5)
    assert len(r.hits) == 5


def _guard(loads):
    def guarded(s, *a, **k):
        if isinstance(s, (str, bytes)) and len(s) > 1_000_000:
            raise AssertionError("a large JSON document parsed while opening the index")
        return loads(s, *a, **k)

    return guarded


def test_synthetic_tokens_are_exact(corpus_index):
    from rag.bench.synthetic import SyntheticCorpus

    cfg, index_dir = corpus_index
    assert SyntheticCorpus(index_dir, cfg).check_tokens(20) == 1.0


@pytest.mark.parametrize("kind", KINDS)
def test_opened_index_is_mapped_and_read_only(tmp_path, kind):
    vecs = _clustered(2000)
    ids = np.arange(1, 2001, dtype=np.int64)
    store = ChunkVectorStore(make_faiss_index(vecs.shape[1], kind, train=vecs, n_expected=len(vecs)))
    store.add_vectors(ids, vecs)
    store.persist(str(tmp_path / "v.faiss"))
    mapped = ChunkVectorStore.load(tmp_path / "v.faiss", mmap=True)
    assert mapped.kind == kind and len(mapped) == 2000
    assert mapped.search(vecs[5], 5)[0][0] == 6
    got_ids, got_vecs = mapped.all_vectors()
    assert sorted(got_ids.tolist()) == ids.tolist()
    with pytest.raises(RuntimeError):
        mapped.add_vectors(np.array([9999]), vecs[:1])
    with pytest.raises(RuntimeError):
        mapped.remove_ids([1, 2])
    writable = ChunkVectorStore.load(tmp_path / "v.faiss")
    assert writable.remove_ids([1, 2]) == 2


def test_place_matching_with_the_document_map_equals_the_scan(corpus_index):
    from rag.retrieve.query import DocList, analyse

    cfg, index_dir = corpus_index
    docs = Index.open(index_dir, cfg).documents()
    assert isinstance(docs, DocList)
    for q in ["宁夏和陕西的法治政府建设目标", "利通区行政执法公示", "吴忠市有哪些措施", "五原县2022年报告", "北京市的情况"]:
        fast, slow = analyse(q, docs), analyse(q, list(docs))
        assert fast.doc_match == slow.doc_match and fast.place_docs == slow.place_docs
        assert fast.unknown_places == slow.unknown_places


def test_pruned_bm25_search_is_exact(corpus_index, monkeypatch):
    """The MaxScore shortcut (common terms looked up only for documents that can still make
    the top k) returns exactly the top k of full scoring, also after removals emptied terms."""
    from rag.bench.measure import load_questions

    cfg, index_dir = corpus_index
    store = ChunkStore(index_dir / read_manifest(index_dir)["version"] / "store.sqlite")
    toks, ids = store.tokens_and_ids()
    full = lexical.LexicalIndex.build(toks, ids)
    unique = {t for t in toks[3]} - {t for i, ts in enumerate(toks) if i != 3 for t in ts}
    shrunk = full.updated([ids[3]], [], [])  # removes the only chunk with `unique` tokens
    assert unique and not (set(shrunk.doc_freq(sorted(unique)).values()) - {0})
    monkeypatch.setattr(lexical, "PRUNE_MIN_POSTINGS", 0)  # prune whenever it is allowed
    questions = load_questions()[:60] + ["".join(sorted(unique))[:40]]
    for lx in (full, shrunk):
        for q in questions:
            for k in (1, 5, 20):
                sc = lx.scores(q)
                order = sorted(range(len(sc)), key=lambda i: (-sc[i], i))[:k]
                want = [(int(lx.ids[i]), float(sc[i])) for i in order if sc[i] > 0]
                got = lx.search(q, k)
                assert [c for c, _ in got] == [c for c, _ in want], q
                assert np.allclose([s for _, s in got], [s for _, s in want], atol=1e-4)


def test_ivf_is_retrained_when_it_outgrows_its_lists(tmp_path):
    import faiss

    names = _corpus_files()
    docs = _docs(tmp_path, [names[4]])  # a short document: a small IVF index
    index_dir = tmp_path / "index"
    cfg = make_config(index_dir, docs, **{"index.ann_threshold": 20})
    first = IndexBuilder(cfg).build(docs, index_dir)
    small = faiss.extract_index_ivf(Index.open(index_dir, cfg).vectors.faiss_index).nlist
    assert first.faiss == "ivf"
    shutil.copy(CORPUS / names[2], docs / names[2])  # the long one: several times the vectors
    IndexBuilder(cfg).add([docs / names[2]], docs, index_dir)
    idx = Index.open(index_dir, cfg)
    assert faiss.extract_index_ivf(idx.vectors.faiss_index).nlist > 2 * small
    assert read_manifest(index_dir)["faiss"]["nlist"] > 2 * small
    assert len(idx.vectors) == len(idx.lexical) == idx.store.count_chunks()


def test_question_tokens_are_cached_and_the_dictionary_loads_in_the_background(tmp_path, monkeypatch):
    """A light tokenizer keeps recent questions' tokens (callers get copies) and, from the
    second question on, loads the full dictionary in a background thread."""
    from rag.text import tokenize as tk

    path = write_dictionary(tmp_path / "dict.sqlite")
    t = Tokenizer(path)
    calls = []
    real = t.segment
    monkeypatch.setattr(t, "segment", lambda text: calls.append(text) or real(text))
    a = t.tokens("两法衔接平台建设")
    a.append("changed")
    assert t.tokens("两法衔接平台建设") == a[:-1] and len(calls) == 1
    assert t.words("两法衔接平台建设") == [w for w in a[:-1] if not w.startswith("#")] and len(calls) == 2
    long_text = "法治政府" * 200  # documents are not cached
    t.tokens(long_text), t.tokens(long_text)
    assert calls.count(long_text) == 2
    started = []
    monkeypatch.setattr(tk, "warm_full", lambda background=True: started.append(background))
    fresh = Tokenizer(path)
    if tk.full_segmenter.cache_info().currsize == 0:  # another test may have loaded it already
        fresh.tokens("第一个问题")
        assert not started
        fresh.tokens("第二个问题")
        assert started == [True]


@pytest.mark.slow
def test_the_benchmarks_add_remove_checks_what_it_claims(tmp_path):
    """`make bench`'s add/remove (real model, through the CLI) finds the added document's chunks by
    their id and verifies they are gone after `remove`: a verification over no chunks is no pass."""
    from rag.bench.jobs import add_remove

    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    shutil.copy(sorted(CORPUS.glob("001_*"))[0], docs)
    cfg = load_config()
    cfg.corpus.docs = str(docs)
    IndexBuilder(cfg).build(docs, index_dir)
    r = add_remove(index_dir, tmp_path / "work", 1)
    assert r["chunks_added"] and r["chunks_added"][0] > 0, r
    assert r["removed_vectors_verified"] is True
    assert read_manifest(index_dir)["counts"]["documents"] == 1
