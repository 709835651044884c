"""`python -m rag bench` (`make bench`): speed and memory of the system, measured in one run.

Prints a readable table, then the whole result as one JSON object on the last line of stdout
(`make bench | tail -1` is valid JSON; with --json only the JSON is printed; --out also writes
it to a file). Progress goes to stderr.

What is measured (every figure carries the machine's cores, its sizes and a method note):

- on the real index (the corpus in data/docs, real embedding model): cold start of
  `python -m rag search` to its first result, search and ask latency (p50/p95), embedding
  throughput, full build time per 1,000 chunks (with and without the embedding cache), and the
  time to add and to remove one document;
- on synthetic indexes of 10k and 100k chunks (1M with --million) derived from the real ones:
  build time, load time, disk size, peak RSS, search p50/p95 of the full hybrid retriever,
  its components (query embedding, FAISS, BM25), recall@10 of the approximate index against
  exact search, adding/removing one document, and the FAISS index types side by side;
- the same search workload through a naive llama-index setup (`VectorStoreIndex` with the
  default `SimpleVectorStore` and JSON docstore, persisted and loaded) as the reference ratio.

Heavy parts run in child processes (`python -m rag.bench child …`) so that each peak RSS
belongs to one job. Benchmarks print numbers; nothing here asserts timings.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rag.bench.jobs import (
    NAIVE_MAX,
    add_remove,
    cold_start,
    leave_segmented,
    spec_naive_queries,
)
from rag.bench.measure import (
    MILLION,
    _cli,
    cores,
    guarded,
    load_questions,
    log,
    machine,
    run_child,
    run_process,
    workload,
)
from rag.bench.report import ann_choice, naive_projection, table, targets
from rag.bench.synthetic import SYNTHETIC_METHOD, SyntheticCorpus, calibrate
from rag.config import Config


def real_section(cfg: Config, work: Path, questions: list[str], args) -> tuple[dict, Path]:
    from rag.index.layout import read_manifest

    res: dict[str, Any] = {}
    docs = cfg.resolve(cfg.corpus.docs)
    # full build in a fresh folder: every chunk embedded
    build_dir = work / "real-build"
    reuse = os.environ.get("RAG_BENCH_REAL_BUILD")  # development only: skip the build timing
    if reuse:
        shutil.copytree(reuse, build_dir)
        res["build"] = {"skipped": f"RAG_BENCH_REAL_BUILD={reuse}"}
    else:
        log("real corpus: full build (embedding every chunk)…")
        r1 = run_process(_cli("build", "--index", str(build_dir), "--docs", str(docs), "--json"))
        if r1["rc"] != 0:
            raise RuntimeError(f"building the real index failed: {(r1['stderr'] or r1['stdout'])[-800:]}")
        n_chunks = read_manifest(build_dir)["counts"]["chunks"]
        log("real corpus: full rebuild with the embedding cache…")
        r2 = run_process(_cli("build", "--index", str(build_dir), "--docs", str(docs), "--full", "--json"))
        res["build"] = {
            "cores": cores(), "chunks": n_chunks,
            "full_build_s": round(r1["wall_s"], 2), "full_build_s_per_1000_chunks": round(r1["wall_s"] / n_chunks * 1000, 1),
            "full_build_peak_rss_mb": r1["peak_rss_mb"],
            "rebuild_cached_s": round(r2["wall_s"], 2),
            "rebuild_cached_s_per_1000_chunks": round(r2["wall_s"] / n_chunks * 1000, 1),
            "method": "`python -m rag build --index FRESH_DIR` (process start to exit: load, clean, outline, chunk, "
                      "embed all chunks with the default model, SQLite, FAISS, BM25); then `build --full` on the same "
                      "folder, where every vector comes from the embedding cache",
        }
    index_dir = Path(args.index) if getattr(args, "index", None) else cfg.resolve(cfg.index.dir)
    use = build_dir
    try:
        from rag.bench.synthetic import release
        from rag.index.reader import Index

        idx = Index.open(index_dir, cfg)
        idx.store.close()
        release(idx)  # a milvus-lite file serves one process: the measured children open it
        use = index_dir
    except Exception as e:
        log(f"  {index_dir} not usable ({str(e)[:80]}): measuring on the fresh build")
    res["index"] = str(use)
    log("real corpus: cold start…")
    res["cold_start"] = guarded("cold start", cold_start, use, questions, runs=5)
    log("real corpus: search and ask latency, embedding throughput…")
    srv = run_child("serve", {"work": str(work), "index": str(use), "queries": workload(questions),
                              "ask": questions, "embed_throughput": True, "config": getattr(args, "config", None)})
    res["serve"] = {**srv, "cores": cores(),
                    "method": "in one process: Index.open, then HybridRetriever.search (Pipeline.search: question "
                              "analysis, query embedding with the real model, FAISS, BM25, fusion, SQLite fetch) for "
                              "every workload question after 4 warm-up searches; ask = Pipeline.ask with the "
                              "configured answerer over the eval questions"}
    log("real corpus: add / remove one document…")
    copy = work / "real-copy"
    shutil.copytree(build_dir, copy)
    res["add_remove"] = guarded("add/remove", add_remove, copy, work, runs=3)
    return res, build_dir


def synthetic_size(n: int, cfg: Config, work: Path, real_index: Path, sigma: float, queries: list[str],
                   args, naive: bool) -> dict:
    out = work / f"syn-{n}"
    out.mkdir(parents=True, exist_ok=True)
    base = {"work": str(work), "out": str(out), "config": getattr(args, "config", None)}
    log(f"synthetic {n}: generating and building…")
    b = run_child("build", {**base, "n": n, "real_index": str(real_index), "sigma": sigma, "queries": queries})
    res: dict[str, Any] = {"n_chunks": n, "cores": cores(), "build": b}
    if "error" in b:
        return res
    b["build_s_per_1000_chunks"] = round(b["build_s_without_generation"] / n * 1000, 3)
    index_dir = out / "index"
    log(f"synthetic {n}: search workload…")
    res["serve"] = run_child("serve", {**base, "index": str(index_dir), "queries": queries,
                                       "gt": str(out / "gt10.npy")})
    log(f"synthetic {n}: cold start…")
    res["cold_start"] = guarded("cold start", cold_start, index_dir, queries, runs=3)
    milvus = cfg.index.backend == "milvus"
    kinds = ["flat", "ivf", "hnsw"] if n <= 200_000 else ["ivf"]
    if not milvus and os.environ.get("RAG_BENCH_NO_SWEEP"):
        log(f"synthetic {n}: FAISS type sweep skipped (RAG_BENCH_NO_SWEEP)")
    elif not milvus:  # FAISS types and the naive reference do not depend on the backend
        log(f"synthetic {n}: FAISS types {', '.join(kinds)}…")
        res["faiss_types"] = run_child("ann", {**base, "kinds": kinds})
    if naive and not milvus:
        log(f"synthetic {n}: naive llama-index reference…")
        nb = run_child("naive_build", {**base})
        res["naive"] = {"build": nb}
        if "error" not in nb:
            res["naive"]["serve"] = run_child("naive_serve", {**base, "queries": queries[: spec_naive_queries(n)]})
        shutil.rmtree(out / "naive", ignore_errors=True)
    log(f"synthetic {n}: add / remove one document…")
    res["add_remove"] = guarded("add/remove", add_remove, index_dir, work, runs=3 if n <= 200_000 else 1)
    if not milvus and n >= cfg.index.segment_min_chunks and cfg.index.segments:
        # the search workload again on a segmented version (a delta and tombstones in play)
        log(f"synthetic {n}: search on a segmented version (one document added, one of the base removed)…")
        seg = guarded("segmented version", leave_segmented, index_dir, work)
        if "error" not in seg:
            seg["serve"] = run_child("serve", {**base, "index": str(index_dir), "queries": queries})
        res["segmented"] = seg
    # keep the disk in check: the 1M folder is several GB
    if not os.environ.get("RAG_BENCH_KEEP"):
        for name in ("vectors.npy",):
            (out / name).unlink(missing_ok=True)
    return res


def run_bench_command(args, cfg: Config) -> int:
    t_start = time.perf_counter()
    sizes = [int(x) for x in str(getattr(args, "sizes", "10000,100000") or "").replace("_", "").split(",") if x.strip()]
    if getattr(args, "million", False) and MILLION not in sizes:
        sizes.append(MILLION)
    keep = bool(os.environ.get("RAG_BENCH_KEEP"))
    work = Path(os.environ.get("RAG_BENCH_DIR") or tempfile.mkdtemp(prefix="rag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"bench": "rag", "format": 1, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                              "machine": machine(), "sizes": sizes, "work_dir": str(work)}
    result["config"] = {"backend": cfg.index.backend, "faiss": cfg.index.faiss, "ann_threshold": cfg.index.ann_threshold,
                        "ivf_nprobe": cfg.index.ivf_nprobe, "hnsw_m": cfg.index.hnsw_m,
                        "hnsw_ef_search": cfg.index.hnsw_ef_search,
                        "embedding": f"{cfg.embedding.backend}:{cfg.embedding.model}",
                        "retrieval": {"mode": cfg.retrieval.mode, "top_k": cfg.retrieval.top_k,
                                      "candidates": cfg.retrieval.candidates}, "answer": cfg.answer.backend}
    try:
        questions = load_questions()
        queries = workload(questions)
        result["queries"] = {"eval_questions": len(questions), "workload": len(queries),
                             "method": "evaluation questions + each with its places swapped to other regions"}
        real, real_index = real_section(cfg, work, questions, args)
        result["real"] = real
        syn: dict[str, Any] = {}
        result["synthetic"] = {"method": SYNTHETIC_METHOD, "sizes": syn}
        if sizes:
            log("synthetic: calibrating the vector noise with the real model…")
            from rag.models.embed import make_embedding
            from rag.text.tokenize import Tokenizer

            Tokenizer.load_full()
            corpus = SyntheticCorpus(real_index, cfg)
            noise = calibrate(corpus, make_embedding(cfg.embedding))
            result["synthetic"]["noise"] = {"calibration": noise, "sigma": noise["sigma"],
                                            "method": "σ = sqrt((1/c² − 1)/d) with c the mean cosine between the real "
                                                      "model's embeddings of original and perturbed chunk texts"}
            del corpus
            for n in sizes:
                syn[str(n)] = guarded(f"synthetic {n}", synthetic_size, n, cfg, work, real_index, noise["sigma"],
                                      queries, args, naive=n <= NAIVE_MAX)
                if not keep:
                    shutil.rmtree(work / f"syn-{n}" / "index", ignore_errors=True)
            naive_projection(syn)
            result["ann_choice"] = ann_choice(syn)
    finally:
        result["seconds_total"] = round(time.perf_counter() - t_start, 1)
        result["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    result["targets"] = targets(result)
    text = json.dumps(result, ensure_ascii=False)
    if getattr(args, "out", ""):
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if not getattr(args, "json", False):
        print(table(result))
    print(text)
    sys.stdout.flush()
    return 0
