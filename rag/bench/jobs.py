"""The measured jobs: building and serving synthetic indexes, FAISS type sweeps, the naive
llama-index reference, cold start and add/remove of one document through the CLI. Each runs
in its own process (`_child_main`)."""

from __future__ import annotations

import json
import random
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.bench.measure import (
    _cli,
    cores,
    du,
    mb,
    median,
    peak_rss_mb,
    run_process,
    stats,
)
from rag.bench.synthetic import (
    SyntheticCorpus,
    exact_topk,
    recall_at,
    write_synthetic_index,
)
from rag.config import ROOT, Config, load_config


def _cfg(spec: dict) -> Config:
    return load_config(spec.get("config") or None)


def _model(cfg: Config):
    from rag.models.embed import make_embedding

    return make_embedding(cfg.embedding)


def child_build(spec: dict) -> dict:
    """A synthetic index of spec['n'] chunks (write_synthetic_index), the query vectors as the
    retriever makes them, and the exact top-10 of each over the raw vectors."""
    from rag.models.embed import embed_query
    from rag.retrieve.query import prepare

    cfg = _cfg(spec)
    n = int(spec["n"])
    out = Path(spec["out"])
    corpus = SyntheticCorpus(Path(spec["real_index"]), cfg, sigma=float(spec["sigma"]))
    res = write_synthetic_index(corpus, n, out / "index", cfg, vectors_out=out, seed=int(spec.get("seed", 1)))
    res["peak_rss_mb"] = peak_rss_mb()
    t0 = time.perf_counter()
    model = _model(cfg)
    qv = np.vstack([embed_query(model, prepare(q)[0]) for q in spec["queries"]]).astype(np.float32)
    np.save(out / "queries.npy", qv)
    vecs = np.load(out / "vectors.npy", mmap_mode="r")
    gt = exact_topk(vecs, np.load(out / "ids.npy"), qv, 10)
    np.save(out / "gt10.npy", gt)
    res["ground_truth_s"] = round(time.perf_counter() - t0, 2)
    res["tokens_exact_share"] = round(corpus.check_tokens(30), 3)
    res["token_cache_entries"] = len(corpus._tok_cache)
    return res


def child_serve(spec: dict) -> dict:
    """Open an index and run the search workload through the full hybrid retriever (query
    embedding + FAISS + BM25 + fusion + SQLite fetch), then its components."""
    from rag.index.reader import Index
    from rag.models.embed import embed_query
    from rag.pipeline import Pipeline
    from rag.retrieve.query import prepare

    cfg = _cfg(spec)
    index_dir = Path(spec["index"])
    t0 = time.perf_counter()
    index = Index.open(index_dir, cfg)
    load_s = time.perf_counter() - t0
    rss_after_load = peak_rss_mb()
    pipe = Pipeline(cfg=cfg, index=index)
    t0 = time.perf_counter()
    pipe.embedding.get_query_embedding("预热")
    model_s = time.perf_counter() - t0
    queries = spec["queries"]
    t0 = time.perf_counter()
    pipe.search(queries[0])
    first_s = time.perf_counter() - t0
    for q in queries[1:4]:
        pipe.search(q)
    index.tokenizer.warm(background=False)  # what the app's warm-up does (rag.app.launch.warm_up)
    lat, dense, lexi = [], [], []
    for q in queries:
        t0 = time.perf_counter()
        r = pipe.search(q)
        lat.append((time.perf_counter() - t0) * 1000)
        dense.append(r.timings.get("dense_ms", 0.0))
        lexi.append(r.timings.get("lexical_ms", 0.0))
    cand = max(cfg.retrieval.candidates, cfg.retrieval.top_k)
    normalized = [prepare(q)[0] for q in queries]
    emb_ms, qv = [], []
    for q in normalized:
        t0 = time.perf_counter()
        qv.append(embed_query(pipe.embedding, q))
        emb_ms.append((time.perf_counter() - t0) * 1000)
    backend = index.backend  # the engine alone, through the search interface (local FAISS/BM25 or Milvus)
    faiss_ms, found = [], []
    for v in qv:
        t0 = time.perf_counter()
        hits = backend.search_dense(v, cand)
        faiss_ms.append((time.perf_counter() - t0) * 1000)
        found.append(np.array([i for i, _ in hits], dtype=np.int64))
    toks = [index.tokenizer.tokens(q) for q in normalized]
    bm25_ms = []
    for tk in toks:
        t0 = time.perf_counter()
        backend.search_lexical(tk, cand)
        bm25_ms.append((time.perf_counter() - t0) * 1000)
    tok_ms = []
    fresh = type(index.tokenizer)(index.tokenizer.dictionary)  # without the question cache: the real cost
    for q in normalized:
        t0 = time.perf_counter()
        fresh.tokens(q)
        tok_ms.append((time.perf_counter() - t0) * 1000)
    res = {
        "n_chunks": backend.count(), "n_documents": len(index.documents()), "backend": backend.describe(),
        "faiss_kind": backend.describe().get("faiss", backend.describe().get("name")),
        "load_s": round(load_s, 3), "model_load_s": round(model_s, 3), "first_search_ms": round(first_s * 1000, 1),
        "search_ms": stats(lat),
        "components_ms": {"query_embedding": stats(emb_ms), "faiss_only": stats(faiss_ms),
                          "bm25_only": stats(bm25_ms), "dense_in_search": stats(dense), "lexical_in_search": stats(lexi),
                          "tokenize": stats(tok_ms)},
        "rss_after_load_mb": rss_after_load,
    }
    if spec.get("gt"):
        gt = np.load(spec["gt"])
        res["recall_at_10_vs_exact"] = recall_at(found, gt, 10)
    if spec.get("ask"):
        ask_ms, err = [], None
        try:
            pipe.ask(queries[0])
            for q in spec["ask"]:
                t0 = time.perf_counter()
                pipe.ask(q)
                ask_ms.append((time.perf_counter() - t0) * 1000)
        except Exception as e:  # an answerer that cannot run here is reported, not fatal
            err = f"{type(e).__name__}: {e}"
        res["ask_ms"] = stats(ask_ms)
        res["ask_backend"] = cfg.answer.backend
        if err:
            res["ask_error"] = err
    if spec.get("embed_throughput"):
        from rag.models.embed import embed_passages

        texts = [t for _, t, _ in index.store.embed_rows()][:128]
        rates = []
        for _ in range(3):
            t0 = time.perf_counter()
            embed_passages(pipe.embedding, texts, cfg.embedding.batch_size)
            rates.append(len(texts) / (time.perf_counter() - t0))
        res["embedding"] = {"chunks_per_s": round(float(np.median(rates)), 1), "runs": [round(r, 1) for r in rates],
                            "texts": len(texts), "batch_size": cfg.embedding.batch_size,
                            "model": f"{cfg.embedding.backend}:{cfg.embedding.model}"}
    res["peak_rss_mb"] = peak_rss_mb()
    return res


def child_ann(spec: dict) -> dict:
    """FAISS types side by side on the synthetic vectors: build time, size, single-query
    latency and recall@10 against exact search, over a sweep of nprobe / efSearch."""
    import faiss

    from rag.index.vectors import ChunkVectorStore, ivf_training_size, make_faiss_index

    cfg = _cfg(spec)
    out = Path(spec["out"])
    vecs = np.load(out / "vectors.npy", mmap_mode="r")
    ids = np.load(out / "ids.npy")
    qv = np.load(out / "queries.npy")
    gt = np.load(out / "gt10.npy")
    n, dim = vecs.shape
    res: dict[str, Any] = {"n_chunks": int(n)}

    def measure(store, params: dict) -> dict:
        lat, found = [], []
        for q in qv:
            t0 = time.perf_counter()
            got, _ = store.search(q, 10)
            lat.append((time.perf_counter() - t0) * 1000)
            found.append(got)
        return {**params, "recall_at_10": recall_at(found, gt, 10), "search_ms": stats(lat)}

    for kind in spec["kinds"]:
        t0 = time.perf_counter()
        sample = None
        if kind == "ivf":
            pick = np.sort(np.random.default_rng(0).permutation(n)[:ivf_training_size(n)])
            sample = np.ascontiguousarray(vecs[pick])
        index = make_faiss_index(dim, kind, train=sample, hnsw_m=cfg.index.hnsw_m, n_expected=n)
        train_s = time.perf_counter() - t0
        store = ChunkVectorStore(index, hnsw_ef_search=cfg.index.hnsw_ef_search, ivf_nprobe=cfg.index.ivf_nprobe)
        for s in range(0, n, 50_000):
            store.add_vectors(ids[s:s + 50_000], np.ascontiguousarray(vecs[s:s + 50_000]))
        build_s = time.perf_counter() - t0
        size = len(faiss.serialize_index(store.faiss_index)) if n <= 200_000 else None
        entry: dict[str, Any] = {"build_s": round(build_s, 2), "train_s": round(train_s, 2)}
        if size:
            entry["size_mb"] = mb(size)
        if kind == "ivf":
            ivf = faiss.extract_index_ivf(store.faiss_index)
            entry["nlist"] = int(ivf.nlist)
            entry["sweep"] = []
            for nprobe in spec.get("nprobe", [8, 16, 32, 48, 64, 128]):
                store.tune(ivf_nprobe=nprobe)
                entry["sweep"].append(measure(store, {"nprobe": nprobe}))
            store.tune(ivf_nprobe=cfg.index.ivf_nprobe)
        elif kind == "hnsw":
            entry["M"] = cfg.index.hnsw_m
            entry["sweep"] = []
            for ef in spec.get("ef", [32, 64, 128, 256, 512]):
                store.tune(hnsw_ef_search=ef)
                entry["sweep"].append(measure(store, {"efSearch": ef}))
        else:
            entry["sweep"] = [measure(store, {})]
        # removal: what each type costs to drop one document's vectors (45 ids)
        drop = ids[len(ids) // 2: len(ids) // 2 + 45]
        t0 = time.perf_counter()
        removed = store.remove_ids(drop)
        entry["remove_45_ids_s"] = round(time.perf_counter() - t0, 3)
        got = store.search(qv[0], 10, allowed=None)[0]
        entry["remove_ok"] = bool(removed == len(drop) and not set(got.tolist()) & set(drop.tolist())
                                  and len(store) == n - len(drop))
        res[kind] = entry
        del store, index
    res["peak_rss_mb"] = peak_rss_mb()
    return res


def child_naive_build(spec: dict) -> dict:
    """The reference: llama-index's defaults, VectorStoreIndex over TextNodes (same texts and
    vectors as our synthetic index) with SimpleVectorStore + SimpleDocumentStore, persisted."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode

    from rag.index.layout import IndexLayout
    from rag.index.store import ChunkStore

    cfg = _cfg(spec)
    out = Path(spec["out"])
    layout = IndexLayout(out / "index")
    store = ChunkStore(layout.store(layout.version_dir(layout.read_manifest()["version"])))
    vecs = np.load(out / "vectors.npy", mmap_mode="r")
    ids = np.load(out / "ids.npy")
    pos = {int(i): k for k, i in enumerate(ids)}
    t0 = time.perf_counter()
    nodes = []
    for c in store.iter_chunks():
        nodes.append(TextNode(id_=c.chunk_id, text=c.text, metadata={"doc_id": c.doc_id, "section": c.section},
                              embedding=vecs[pos[c.id]].tolist()))
    t_nodes = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = VectorStoreIndex(nodes, embed_model=_model(cfg), show_progress=False)
    t_index = time.perf_counter() - t0
    persist = out / "naive"
    if persist.exists():
        shutil.rmtree(persist)
    t0 = time.perf_counter()
    index.storage_context.persist(persist_dir=str(persist))
    t_persist = time.perf_counter() - t0
    return {"n_chunks": len(nodes), "nodes_s": round(t_nodes, 2), "index_s": round(t_index, 2),
            "persist_s": round(t_persist, 2), "build_s": round(t_nodes + t_index + t_persist, 2),
            "disk_mb": mb(du(persist)), "files_mb": {p.name: mb(p.stat().st_size) for p in persist.iterdir()},
            "peak_rss_mb": peak_rss_mb()}


def child_naive_serve(spec: dict) -> dict:
    from llama_index.core import StorageContext, load_index_from_storage

    from rag.retrieve.query import prepare

    cfg = _cfg(spec)
    out = Path(spec["out"])
    model = _model(cfg)
    model.get_query_embedding("预热")
    t0 = time.perf_counter()
    storage = StorageContext.from_defaults(persist_dir=str(out / "naive"))
    index = load_index_from_storage(storage, embed_model=model)
    load_s = time.perf_counter() - t0
    retriever = index.as_retriever(similarity_top_k=10)
    lat = []
    for q in spec["queries"]:
        t0 = time.perf_counter()
        retriever.retrieve(prepare(q)[0])
        lat.append((time.perf_counter() - t0) * 1000)
    return {"load_s": round(load_s, 2), "search_ms": stats(lat), "peak_rss_mb": peak_rss_mb()}


CHILDREN = {"build": child_build, "serve": child_serve, "ann": child_ann, "naive_build": child_naive_build,
            "naive_serve": child_naive_serve}


def cold_start(index_dir: Path, questions: list[str], runs: int = 5) -> dict:
    """`python -m rag search --json Q` in a fresh process: launch → first result line."""
    warm = run_process(_cli("search", "--index", str(index_dir), "--json", questions[0]), first_line=True)
    times = []
    for q in questions[1:runs + 1]:
        r = run_process(_cli("search", "--index", str(index_dir), "--json", q), first_line=True)
        if r["rc"] == 0 and r["first_line_s"] is not None:
            times.append(r["first_line_s"])
    return {"cores": cores(), "runs": len(times), "p50_s": median(times),
            "max_s": round(max(times), 3) if times else None, "all_s": [round(t, 3) for t in times],
            "first_run_s": round(warm["first_line_s"] or 0, 3),
            "method": "wall time from launching `python -m rag search --index DIR --json QUESTION` to its first "
                      "stdout line (the results), different question each run, OS file cache warm; one unmeasured "
                      "warm-up run first (it also writes the bytecode cache a normal install has)"}


def _doc_variant(src: Path, k: int) -> str:
    """The text of a real corpus file moved to another county, with other digits and a marker
    on every paragraph: a document whose every chunk is new to the index and to the embedding
    cache (so adding it embeds all its chunks)."""
    from rag.text import places as rg
    from rag.text.normalize import normalize

    text = normalize(src.read_text(encoding="utf-8", errors="replace"))
    pool = sorted((r for r in rg.gazetteer().values() if r.level == "county"), key=lambda r: r.name)
    target = pool[(k * 13 + 5) % len(pool)]
    mapping = {}
    for r, _, _ in rg.find_regions(text):
        if r.level == "county" and r.name != target.name:
            mapping[r.name] = target.name
            if len(r.short) >= 2:
                mapping[r.short] = target.short
    if mapping:
        pat = re.compile("|".join(map(re.escape, sorted(mapping, key=len, reverse=True))))
        text = pat.sub(lambda m: mapping[m.group(0)], text)
    rnd = random.Random(k * 7919 + time.time_ns() % 7919)
    text = re.sub(r"\d", lambda m: str(rnd.randint(0, 9)), text)
    mark = f"(基准副本{k}-{rnd.randint(1000, 9999)})"
    return "\n".join(line + mark if len(line.strip()) >= 20 else line for line in text.splitlines()) + "\n"


def add_remove(index_dir: Path, work: Path, runs: int) -> dict:
    """`python -m rag add` of a new document, then `python -m rag remove` of it, `runs` times;
    after each removal the vectors are checked: count back, none of its ids left, and a search
    for its own text never returns them."""
    from rag.index.layout import read_manifest
    from rag.index.reader import Index

    docs = work / "add-docs"
    docs.mkdir(parents=True, exist_ok=True)
    src = sorted((ROOT / "data" / "docs").glob("*.txt"))
    src = [p for p in src if "004_" in p.name] or src[-1:]
    add_s, add_inner, rm_s, rm_inner, chunks, verified, embedded = [], [], [], [], [], [], []
    modes: list[str] = []
    for k in range(runs):
        f = docs / f"bench_add_{k}_{time.time_ns() % 100000}.txt"
        f.write_text(_doc_variant(src[0], k), encoding="utf-8")
        before = read_manifest(index_dir)["counts"]["chunks"]
        r = run_process(_cli("add", "--index", str(index_dir), "--docs", str(docs), "--json", str(f)))
        if r["rc"] != 0:
            return {"error": (r["stderr"] or r["stdout"])[-500:]}
        summary = json.loads([x for x in r["stdout"].splitlines() if '"summary"' in x][-1])
        add_s.append(r["wall_s"])
        add_inner.append(summary["seconds"])
        emb = re.search(r"embedded (\d+), cached (\d+)", summary["summary"])
        embedded.append([int(emb.group(1)), int(emb.group(2))] if emb else None)
        m = read_manifest(index_dir)
        doc_id = f.name  # ids keep the extension (two files a.txt and a.md are two documents)
        modes.append((m.get("segments") and "delta") or "plain")
        # through the reader: a segmented version's rows are base − tombstones + delta
        idx = Index.open(index_dir)
        new_ids = idx.store.chunk_ids([doc_id])
        got = idx.chunks(new_ids[:1])
        sample_text = (got[0].text,) if got else None
        idx.store.close()
        del idx
        chunks.append(len(new_ids))
        r = run_process(_cli("remove", "--index", str(index_dir), "--docs", str(docs), "--json", doc_id))
        if r["rc"] != 0:
            return {"error": (r["stderr"] or r["stdout"])[-500:]}
        summary = json.loads([x for x in r["stdout"].splitlines() if '"summary"' in x][-1])
        rm_s.append(r["wall_s"])
        rm_inner.append(summary["seconds"])
        m = read_manifest(index_dir)
        if (m.get("backend") or {}).get("name", "local") == "local":
            idx = Index.open(index_dir)
            ok = bool(new_ids) and len(idx.vectors) == before == m["counts"]["chunks"] == idx.store.count_chunks()
            ok = ok and not any(idx.vectors.has_id(int(i)) for i in new_ids[:20])
            ok = ok and not idx.store.get_chunks(new_ids[:20])
            idx.store.close()
            del idx
        else:  # milvus: the rows this version sees, counted by the server (in a child: lite serves one process)
            ok = _milvus_rows(index_dir) == before == m["counts"]["chunks"]
        if sample_text:
            s = run_process(_cli("search", "--index", str(index_dir), "--json", "-k", "20", sample_text[0][:200]))
            hits = json.loads(s["stdout"].splitlines()[-1])["hits"] if s["rc"] == 0 else []
            ok = ok and s["rc"] == 0 and not any(h["doc_id"] == doc_id for h in hits)
        verified.append(ok)
        f.unlink(missing_ok=True)  # `remove` sets the file aside in <docs>/.removed/
    return {"cores": cores(), "runs": runs, "chunks_added": chunks,
            "add_s_p50": median(add_s), "add_s_all": [round(x, 2) for x in add_s],
            "add_builder_s_p50": median(add_inner), "embedded_cached_per_add": embedded,
            "remove_s_p50": median(rm_s), "remove_s_all": [round(x, 2) for x in rm_s],
            "remove_builder_s_p50": median(rm_inner),
            "removed_vectors_verified": all(verified) and bool(verified),
            "version_written": modes,
            "method": "wall time of `python -m rag add --index DIR --docs D FILE` (process start, parsing, "
                      "chunking, embedding the new chunks with the real model, new version written, manifest "
                      "swapped) and of `python -m rag remove DOC_ID`; builder_s = the builder's own time. The "
                      "document is a real corpus file moved to another county with other numbers (never seen "
                      "by the embedding cache). After removal: vector count back to before, removed ids not "
                      "reconstructible, a search for the removed text never returns it"}


def leave_segmented(index_dir: Path, work: Path) -> dict:
    """Leave the index as a segmented version with both a delta and tombstones, for a search
    workload on it: a new document added, then a document of the base removed (`python -m rag
    add` / `remove`, timed like `add_remove`)."""
    from rag.index.layout import read_manifest

    docs = work / "add-docs"
    docs.mkdir(parents=True, exist_ok=True)
    src = sorted((ROOT / "data" / "docs").glob("*.txt"))
    src = [p for p in src if "004_" in p.name] or src[-1:]
    f = docs / f"bench_delta_{time.time_ns() % 100000}.txt"
    f.write_text(_doc_variant(src[0], 97), encoding="utf-8")
    r = run_process(_cli("add", "--index", str(index_dir), "--docs", str(docs), "--json", str(f)))
    if r["rc"] != 0:
        return {"error": (r["stderr"] or r["stdout"])[-500:]}
    add_s = r["wall_s"]
    m = read_manifest(index_dir)
    victim = sorted(d for d in m["documents"] if not d.startswith("bench_"))[len(m["documents"]) // 2]
    r = run_process(_cli("remove", "--index", str(index_dir), "--docs", str(docs), "--json", victim))
    if r["rc"] != 0:
        return {"error": (r["stderr"] or r["stdout"])[-500:]}
    summary = json.loads([x for x in r["stdout"].splitlines() if '"summary"' in x][-1])
    m = read_manifest(index_dir)
    return {"add_s": round(add_s, 2), "remove_base_doc_s": round(r["wall_s"], 2),
            "remove_base_doc_builder_s": summary["seconds"], "segments": m.get("segments"),
            "method": "a new document added, then one of the base's removed (tombstones), each by the CLI"}


def _milvus_rows(index_dir: Path) -> int | None:
    code = ("import sys; from rag.config import load_config; from rag.index.reader import Index; "
            f"print(Index.open({str(index_dir)!r}, load_config()).backend.count_rows())")
    r = run_process([sys.executable, "-c", code])
    try:
        return int(r["stdout"].strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None


NAIVE_MAX = 20_000  # llama-index's SimpleVectorStore decodes every float through dataclasses_json on load


def spec_naive_queries(n: int) -> int:
    return 60 if n <= NAIVE_MAX else 12


def _child_main(argv: list[str]) -> int:
    kind, spec_path = argv[0], argv[1]
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    res = CHILDREN[kind](spec)
    res["cores"] = cores()
    sys.stdout.write(json.dumps(res, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0
