"""Synthetic indexes of 10k-1M chunks derived from the real ones (see `SYNTHETIC_METHOD`),
written with the project's own writers through `rag.index.layout`, and exact top-k ground
truth for recall."""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.measure import du, log, mb
from rag.config import Config


def _cached_vectors(idx, cfg: Config) -> tuple[np.ndarray, np.ndarray]:
    from rag.index.embcache import EmbeddingCache
    from rag.index.layout import IndexLayout
    from rag.models.embed import embedding_id

    rows = idx.store.embed_rows()
    cache = EmbeddingCache(IndexLayout(idx.dir).embeddings_cache)
    try:
        got = cache.get_many(embedding_id(cfg.embedding), [h for _, _, h in rows])
    finally:
        cache.close()
    missing = [i for i, _, h in rows if h not in got]
    if missing:
        raise RuntimeError(f"{len(missing)} chunks of {idx.dir} have no cached vector; rebuild it")
    return np.array([i for i, _, _ in rows], np.int64), np.vstack([got[h] for _, _, h in rows])


def release(idx) -> None:
    """Let other processes open a milvus-lite file this process opened (one process at a time)."""
    uri = getattr(idx.backend, "uri", None)
    if uri:
        from rag.index.milvus import forget_client, is_lite

        if is_lite(uri):
            forget_client(uri)


class SyntheticCorpus:
    """Documents, chunks, tokens and vectors derived from a real index.

    Copy j of real document d: every name of d's region chain (利通区 → 吴忠市 → 宁夏) is
    replaced by the names of another region of the same level from the gazetteer (and its
    city and province); in every chunk the sentences after the first are shuffled and, in a
    third of the sentences each, digit runs are replaced by random digits of the same length.
    The chunk's lexical tokens are exactly `tokenize(lexical_text(...))` of the new text
    (computed piece by piece with a cache; checked on a sample). Its vector is the real
    chunk's vector plus Gaussian noise N(0, σ²I), re-normalised; σ is calibrated so that the
    mean cosine between a real vector and its noisy copy equals the mean cosine the real
    model gives between a chunk and its perturbed text (`calibrate`)."""

    SPLIT_RE = re.compile(r"[^。；;！!？?\n]*(?:[。；;！!？?]|\n|$)")

    def __init__(self, index_dir: Path, cfg: Config, sigma: float = 0.0, seed: int = 0):
        from rag.index.reader import Index
        from rag.text import places as rg

        self.cfg = cfg
        self.sigma = sigma
        self.seed = seed
        idx = Index.open(index_dir, cfg)
        if idx.vectors is not None:
            ids, vecs = idx.vectors.all_vectors()
        else:  # a milvus index: the same vectors from the embedding cache, by the chunks' text hashes
            ids, vecs = _cached_vectors(idx, cfg)
        pos = {int(i): n for n, i in enumerate(ids)}
        self.dim = int(vecs.shape[1])
        self.docs = []
        for rec in idx.documents():
            chunks = idx.store.doc_chunks(rec.doc_id)
            doc = idx.store.document(rec.doc_id)
            self.docs.append({"rec": rec, "doc": doc, "chunks": chunks, "sections": idx.store.sections(rec.doc_id),
                              "vecs": vecs[[pos[c.id] for c in chunks]]})
        idx.store.close()
        release(idx)
        self.real_chunks = sum(len(d["chunks"]) for d in self.docs)
        self.by_level: dict[str, list] = {}
        for r in rg.gazetteer().values():
            self.by_level.setdefault(r.level, []).append(r)
        for v in self.by_level.values():
            v.sort(key=lambda r: r.name)
        self._tok_cache: dict[str, tuple[list[str], list[str]]] = {}
        self._num_cache: dict[tuple[str, int], str] = {}

    # -- text
    def _region_map(self, meta, j: int, d: int) -> tuple[dict[str, str], Any]:
        from rag.records import UNKNOWN
        from rag.text import places as rg

        r = rg.get(meta.region) if meta.region != UNKNOWN else None
        if r is None:
            return {}, None
        old = rg.chain(r)
        pool = self.by_level[r.level]
        new_r = pool[(j * 31 + d * 7) % len(pool)]
        new = rg.chain(new_r)
        mapping = {}
        for a, b in zip(old, new):
            mapping[a.name] = b.name
            if len(a.short) >= 2 and a.short != a.name:
                mapping[a.short] = b.short
        return mapping, new

    @staticmethod
    def _swap(text: str, pattern, mapping: dict[str, str]) -> str:
        return pattern.sub(lambda m: mapping[m.group(0)], text) if pattern is not None else text

    def _numbers(self, piece: str, variant: int) -> str:
        if variant == 0 or not any(ch.isdigit() for ch in piece):
            return piece
        key = (piece, variant)
        out = self._num_cache.get(key)
        if out is None:
            rnd = random.Random(hashlib.sha1(f"{variant}:{piece}".encode()).digest())

            def repl(m):
                n = len(m.group(0))
                first = str(rnd.randint(1, 9)) if n > 1 else str(rnd.randint(0, 9))
                return first + "".join(str(rnd.randint(0, 9)) for _ in range(n - 1))

            out = re.sub(r"\d+", repl, piece)
            if len(self._num_cache) < 2_000_000:
                self._num_cache[key] = out
        return out

    def _tok(self, piece: str) -> tuple[list[str], list[str]]:
        from rag.text.tokenize import CJK_RUN_RE, full_segmenter, tokens_of

        hit = self._tok_cache.get(piece)
        if hit is None:
            words = tokens_of(full_segmenter().lcut_for_search(piece), piece, False)
            bigrams = []
            for run in CJK_RUN_RE.findall(piece):
                bigrams.extend("#" + run[i:i + 2] for i in range(len(run) - 1))
            hit = (words, bigrams)
            if len(self._tok_cache) < 3_000_000:
                self._tok_cache[piece] = hit
        return hit

    def _pieces(self, text: str) -> list[str]:
        return [p for p in self.SPLIT_RE.findall(text) if p]

    # -- documents
    def documents(self, n_chunks: int, rng: np.random.Generator):
        """Yield (Document, sections, chunks, embed texts, token lists, vectors) until
        `n_chunks` chunks were produced."""
        from dataclasses import replace

        from rag.ingest.document import embed_text, header
        from rag.records import PATH_SEP, Chunk, DocMeta, Document

        made = 0
        j = 0
        while made < n_chunks:
            for d, src in enumerate(self.docs):
                if made >= n_chunks:
                    return
                rec, doc = src["rec"], src["doc"]
                mapping, new_chain = self._region_map(rec.meta, j, d)
                pattern = re.compile("|".join(map(re.escape, sorted(mapping, key=len, reverse=True)))) if mapping else None
                meta_d = {k: (self._swap(v, pattern, mapping) if isinstance(v, str) else v)
                          for k, v in rec.meta.to_dict().items()}
                if new_chain:
                    meta_d["region"] = new_chain[0].name
                    meta_d["province"] = new_chain[-1].name
                    meta_d["city"] = next((x.name for x in new_chain if x.level == "city"), "unknown")
                meta = DocMeta(**meta_d)
                doc_id = f"syn{j:05d}_{doc.doc_id}"
                texts, pieces_all = [], []
                take = src["chunks"][: n_chunks - made]
                pos = 0
                chunks = []
                for c in take:
                    pieces = self._pieces(self._swap(c.text, pattern, mapping))
                    if len(pieces) > 2:
                        rest = pieces[1:]
                        order = rng.permutation(len(rest))
                        pieces = [pieces[0]] + [rest[i] for i in order]
                    variants = rng.integers(0, 3, size=len(pieces))
                    pieces = [self._numbers(p, int(v)) for p, v in zip(pieces, variants)]
                    # a piece moved away from the end must still end where a token run ends
                    pieces = [p if (k == len(pieces) - 1 or re.search(r"[。；;！!？?\n]$", p)) else p + "。"
                              for k, p in enumerate(pieces)]
                    text = "".join(pieces)
                    path = tuple(self._swap(p, pattern, mapping) for p in c.section_path)
                    chunk = Chunk(chunk_id=f"{doc_id}#{c.chunk_id.rsplit('#', 1)[-1]}", doc_id=doc_id,
                                  section_path=path, text=text, start=pos, end=pos + len(text),
                                  duties=c.duties, deadlines=c.deadlines, targets=c.targets, page=c.page)
                    pos += len(text) + 1
                    chunks.append(chunk)
                    pieces_all.append(pieces)
                full = "\n".join(ch.text for ch in chunks)
                new_doc = Document(doc_id=doc_id, path=f"{doc_id}.txt", text=full, meta=meta,
                                   source_hash=hashlib.sha256(full.encode()).hexdigest(),
                                   encoding="utf-8", format="txt")
                hdr = header(new_doc)
                h_words, h_bi = self._tok(hdr)
                token_lists = []
                for ch, pieces in zip(chunks, pieces_all):
                    texts.append(embed_text(new_doc, ch))
                    words, bis = list(h_words), list(h_bi)
                    path = PATH_SEP.join(ch.section_path)
                    for piece in ([path] if path else []) + pieces:
                        w, b = self._tok(piece)
                        words += w
                        bis += b
                    token_lists.append(words + bis)
                vecs = src["vecs"][: len(chunks)]
                if self.sigma > 0:
                    vecs = vecs + rng.standard_normal(vecs.shape, dtype=np.float32) * np.float32(self.sigma)
                    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
                made += len(chunks)
                sections = [replace(s, path=tuple(self._swap(p, pattern, mapping) for p in s.path))
                            for s in src["sections"]]
                yield new_doc, sections, chunks, texts, token_lists, np.ascontiguousarray(vecs, dtype=np.float32)
            j += 1

    def check_tokens(self, n: int = 40) -> float:
        """Share of sampled synthetic chunks whose tokens equal tokenize(lexical_text(...))."""
        from rag.ingest.document import header, lexical_text
        from rag.text.tokenize import Tokenizer

        rng = np.random.default_rng(123)
        ok = total = 0
        for doc, _, chunks, _, toks, _ in self.documents(max(n * 12, 600), rng):
            hdr = header(doc)
            for c, t in zip(chunks[:3], toks[:3]):
                total += 1
                ok += Tokenizer().tokens(lexical_text(hdr, c)) == t
            if total >= n:
                break
        return ok / max(total, 1)


def calibrate(corpus: SyntheticCorpus, model, n: int = 48) -> dict:
    """σ of the vector noise: embed n perturbed chunk texts with the real model, measure the
    mean cosine to their original's vector, and pick σ so that real vector + N(0, σ²I),
    re-normalised, has that mean cosine (cos ≈ 1/√(1 + dσ²))."""
    from rag.models.embed import embed_passages

    rng = np.random.default_rng(99)
    texts, orig = [], []
    assert corpus.sigma == 0  # so that `vecs` below are the real vectors of the originals
    for doc, _, chunks, etexts, _, vecs in corpus.documents(corpus.real_chunks * 3, rng):
        picks = rng.choice(len(chunks), size=min(len(chunks), 4), replace=False)
        texts += [etexts[i] for i in picks]
        orig += [vecs[i] for i in picks]
        if len(texts) >= n:
            break
    texts, orig = texts[:n], np.vstack(orig[:n])
    emb = embed_passages(model, texts, 32)
    cos = np.sum(emb * orig, axis=1)
    c = float(np.clip(cos.mean(), 0.5, 0.9999))
    sigma = float(np.sqrt((1.0 / c ** 2 - 1.0) / corpus.dim))
    return {"n_texts": len(texts), "mean_cos_real_perturbed": round(c, 4),
            "min_cos": round(float(cos.min()), 4), "sigma": round(sigma, 5), "dim": corpus.dim}


def write_synthetic_index(corpus: SyntheticCorpus, n: int, index_dir: Path, cfg: Config,
                          vectors_out: Path | None = None, seed: int = 1) -> dict:
    """Write an index of `n` synthetic chunks to `index_dir` through the project's own writers:
    ChunkStore.put_document (SQLite), LexicalBuilder (BM25 arrays), make_faiss_index +
    ChunkVectorStore (the type choose_kind picks from the configuration), the builder's
    manifest and documents list, the query dictionary. With `vectors_out`, the raw vectors and
    ids are kept there (vectors.npy, ids.npy) for exact ground truth."""
    from rag.index.builder import BuildReport, DocResult
    from rag.index.embcache import text_hash
    from rag.index.layout import IndexLayout, make_manifest
    from rag.index.lexical import LexicalBuilder
    from rag.index.store import ChunkStore
    from rag.index.vectors import (
        ChunkVectorStore,
        choose_kind,
        ivf_training_size,
        make_faiss_index,
    )
    from rag.text.tokenize import Tokenizer, write_dictionary

    index_dir = Path(index_dir)
    if index_dir.exists():
        shutil.rmtree(index_dir)
    layout = IndexLayout(index_dir)
    version = "v-20000101T000000-syn"
    vdir = layout.version_dir(version)
    vdir.mkdir(parents=True)
    Tokenizer.load_full()
    t_all = time.perf_counter()
    rng = np.random.default_rng(seed)
    milvus = None
    if cfg.index.backend == "milvus":  # the same rows into a Milvus collection (rag.index.milvus)
        from rag.index.milvus import MilvusWriter

        milvus = MilvusWriter(cfg, layout, version, None, lambda: corpus.dim)
    store = ChunkStore(layout.store(vdir), readonly=False, term_df=milvus is not None)
    lex = LexicalBuilder() if milvus is None else None
    if vectors_out is not None:
        vectors_out.mkdir(parents=True, exist_ok=True)
        vec_mm = np.lib.format.open_memmap(vectors_out / "vectors.npy", mode="w+", dtype=np.float32, shape=(n, corpus.dim))
    else:
        vec_mm = np.empty((n, corpus.dim), dtype=np.float32)
    all_ids = np.empty(n, dtype=np.int64)
    t = {"generate": 0.0, "store": 0.0, "lexical_add": 0.0}
    report = BuildReport(version=version, index_dir=str(index_dir))
    made = 0
    gen = corpus.documents(n, rng)
    while True:
        t0 = time.perf_counter()
        try:
            doc, sections, chunks, texts, toks, vecs = next(gen)
        except StopIteration:
            break
        hashes = [text_hash(x) for x in texts]
        t1 = time.perf_counter()
        ids = store.put_document(doc, sections, chunks, texts, hashes, toks)
        t2 = time.perf_counter()
        if milvus is None:
            lex.add(ids, toks)
        else:
            milvus.add(np.asarray(ids, np.int64), vecs, toks, [doc.doc_id] * len(ids))
        t3 = time.perf_counter()
        vec_mm[made:made + len(ids)] = vecs
        all_ids[made:made + len(ids)] = ids
        made += len(ids)
        report.documents.append(DocResult(doc.doc_id, doc.path, "added", sections=len(sections), chunks=len(chunks),
                                          duties=sum(len(c.duties) for c in chunks), sha256=doc.source_hash))
        t["generate"] += t1 - t0
        t["store"] += t2 - t1
        t["lexical_add"] += t3 - t2
        if made and made % 100_000 < len(ids):
            log(f"  synthetic {n}: {made} chunks")
    if vectors_out is not None:
        vec_mm.flush()
        np.save(vectors_out / "ids.npy", all_ids[:made])
    if milvus is not None:
        return _finish_milvus(milvus, store, layout, vdir, cfg, version, report, made, t, t_all, n)
    t0 = time.perf_counter()
    lx = lex.finish()
    lx.save(layout.lexical(vdir))
    t["lexical_finish"] = time.perf_counter() - t0
    del lx, lex
    # vectors: the type the configuration ("auto": by size) picks
    t0 = time.perf_counter()
    kind = choose_kind(cfg.index.faiss, made, cfg.index.ann_threshold)
    sample = None
    if kind == "ivf":
        pick = np.sort(np.random.default_rng(0).permutation(made)[:ivf_training_size(made)])
        sample = np.ascontiguousarray(vec_mm[pick])
    index = make_faiss_index(corpus.dim, kind, train=sample, hnsw_m=cfg.index.hnsw_m, n_expected=made)
    t_train = time.perf_counter() - t0
    vectors = ChunkVectorStore(index, hnsw_ef_search=cfg.index.hnsw_ef_search, ivf_nprobe=cfg.index.ivf_nprobe)
    for s in range(0, made, 50_000):
        vectors.add_vectors(all_ids[s:s + 50_000], np.ascontiguousarray(vec_mm[s:s + 50_000]))
    vectors.persist(str(layout.vectors(vdir)))
    faiss_params = vectors.describe()
    t["vectors"] = time.perf_counter() - t0
    t["vectors_train"] = t_train
    del vectors, index
    t0 = time.perf_counter()
    store.close()
    report.chunks, report.faiss = made, kind
    report.faiss_params = faiss_params
    manifest = make_manifest(cfg, version, report.live(), made, kind, faiss_params, Path("synthetic"), None,
                             time.perf_counter() - t_all)
    layout.publish(manifest)
    write_dictionary(layout.dictionary)
    t["manifest"] = time.perf_counter() - t0
    build_s = time.perf_counter() - t_all
    return {
        "n_chunks": made, "n_documents": len(report.documents), "faiss_kind": kind,
        "build_s": round(build_s, 2), "phases_s": {k: round(v, 2) for k, v in t.items()},
        "generation_share_note": "generate = deriving texts/tokens/vectors (not part of a real build); "
                                 "store/lexical/vectors/manifest = the project's writers",
        "build_s_without_generation": round(build_s - t["generate"], 2),
        "disk_mb": {"total": mb(du(vdir)), "store.sqlite": mb(du(layout.store(vdir))),
                    "vectors.faiss": mb(du(layout.vectors(vdir))), "lexical": mb(du(layout.lexical(vdir))),
                    "manifest.json": mb(du(layout.manifest))},
        "manifest_kb": round(du(layout.manifest) / 1024, 1),
    }


def _finish_milvus(milvus, store, layout, vdir, cfg, version, report, made, t, t_all, n) -> dict:
    from rag.index.layout import make_manifest
    from rag.text.tokenize import write_dictionary

    t0 = time.perf_counter()
    info = milvus.finish()  # flush + load: the collection's indexes are built here
    t["milvus_finish"] = time.perf_counter() - t0
    store.close()
    report.chunks, report.faiss = made, info["engine"]
    manifest = make_manifest(cfg, version, report.live(), made, info["engine"], {"kind": "milvus"}, Path("synthetic"),
                             None, time.perf_counter() - t_all, backend=info)
    milvus.publish(manifest)
    layout.publish(manifest)
    write_dictionary(layout.dictionary)
    build_s = time.perf_counter() - t_all
    lite = layout.root / "milvus.db"
    return {
        "n_chunks": made, "n_documents": len(report.documents), "faiss_kind": info["engine"], "backend": info,
        "build_s": round(build_s, 2), "phases_s": {k: round(v, 2) for k, v in t.items()},
        "generation_share_note": "generate = deriving texts/tokens/vectors (not part of a real build); "
                                 "store = SQLite, lexical_add = inserting rows into Milvus (BM25 function, dense "
                                 "vectors), milvus_finish = flush and index build",
        "build_s_without_generation": round(build_s - t["generate"], 2),
        "disk_mb": {"total": mb(du(vdir) + (du(lite) if lite.exists() else 0)),
                    "store.sqlite": mb(du(layout.store(vdir))), "milvus": mb(du(lite)) if lite.exists() else None,
                    "manifest.json": mb(du(layout.manifest))},
        "manifest_kb": round(du(layout.manifest) / 1024, 1),
    }


def exact_topk(vecs: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int, block: int = 200_000) -> np.ndarray:
    """Exact inner-product top-k ids by blocks (bounded memory)."""
    best_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.full((len(q), k), -1, dtype=np.int64)
    for s in range(0, len(ids), block):
        v = np.asarray(vecs[s:s + block], dtype=np.float32)
        sc = q @ v.T
        kk = min(k, sc.shape[1])
        part = np.argpartition(-sc, kk - 1, axis=1)[:, :kk]
        cand_s = np.concatenate([best_s, np.take_along_axis(sc, part, 1)], axis=1)
        cand_i = np.concatenate([best_i, ids[s:s + block][part]], axis=1)
        order = np.argsort(-cand_s, axis=1, kind="stable")[:, :k]
        best_s = np.take_along_axis(cand_s, order, 1)
        best_i = np.take_along_axis(cand_i, order, 1)
    return best_i


def recall_at(found: list[np.ndarray], gt: np.ndarray, k: int = 10) -> float:
    hits = [len(set(f[:k].tolist()) & set(g[:k].tolist())) / k for f, g in zip(found, gt)]
    return round(float(np.mean(hits)), 4) if hits else 0.0


SYNTHETIC_METHOD = (
    "Synthetic chunks are derived from the real index (the corpus's documents and chunks): copy j of a real "
    "document replaces every name of its region chain (county → city → province, full and short names) by "
    "another gazetteer region of the same level (rag/text/places.py), shuffles the sentences of each chunk after "
    "the first, and rewrites the digits of about two thirds of the sentences (same number of digits). Documents "
    "keep their structure (sections, chunk count, responsibility notes), so N chunks ≈ N/45 documents. Lexical "
    "tokens are exactly those of tokenize(lexical_text(...)) of the new text (checked on a sample: "
    "tokens_exact_share). Vectors: the real chunk's vector + Gaussian noise N(0, σ²I), re-normalised, with σ "
    "calibrated so that the mean cosine between original and copy equals the mean cosine the real model gives "
    "between a chunk's embedding and the embedding of its perturbed text (noise.calibration). Indexes are "
    "written with the project's own code: ChunkStore.put_document (SQLite), LexicalBuilder (BM25 arrays), "
    "make_faiss_index + ChunkVectorStore (type chosen by choose_kind from the configuration), the builder's "
    "manifest; the query side is the unchanged Pipeline/HybridRetriever with the real embedding model. "
    "Queries: the evaluation questions plus each again with its places swapped for other regions."
)
