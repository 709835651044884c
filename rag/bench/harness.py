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

import hashlib
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import ROOT, Config, load_config

QUESTIONS_FILE = ROOT / "eval" / "questions.jsonl"
MILLION = 1_000_000
TARGETS = {
    "search_p95_real_ms": 50.0,
    "search_p95_1m_ms": 100.0,
    "ann_recall_at_10": 0.95,
    "load_1m_s": 10.0,
    "peak_rss_1m_gb": 4.0,
    "add_doc_100k_s": 10.0,
    "cold_start_s": 3.0,
}


# ---------------------------------------------------------------- small helpers

def cores() -> dict:
    try:
        aff = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        aff = list(range(os.cpu_count() or 1))
    return {"cpu_count": os.cpu_count(), "affinity": len(aff)}


def machine() -> dict:
    import faiss

    info = {**cores(), "affinity_cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "faiss": faiss.__version__,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    info["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    return info


def stats(ms: list[float]) -> dict:
    if not ms:
        return {"n": 0}
    a = np.asarray(ms, dtype=np.float64)
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "mean": round(float(a.mean()), 2), "max": round(float(a.max()), 2)}


def median(xs: list[float]) -> float | None:
    return round(float(np.median(xs)), 3) if xs else None


def du(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def mb(n: int | float) -> float:
    return round(n / 1024 / 1024, 1)


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set (VmHWM) of a process. Not getrusage's ru_maxrss: Linux carries the
    parent's peak over fork and exec into it, so a small child would report the parent's."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    if pid == "self":
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return None


def log(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # a normal installation caches bytecode; this sandbox may forbid it, which would make every
    # cold start compile the package again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_process(cmd: list[str], first_line: bool = False) -> dict:
    """Run a command; wall time, peak RSS of that process (wait4), its output. With
    `first_line`, also the time until its first line of stdout (a first result)."""
    import threading

    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = None
    out: list[str] = []
    err: list[str] = []
    if first_line:
        out.append(p.stdout.readline())
        first = time.perf_counter() - t0
    readers = [threading.Thread(target=lambda: out.append(p.stdout.read())),
               threading.Thread(target=lambda: err.append(p.stderr.read()))]
    for t in readers:
        t.start()
    peak = None
    while p.poll() is None:  # VmHWM only grows: the last reading is the peak (to ~50 ms)
        peak = peak_rss_mb(p.pid) or peak
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    for t in readers:
        t.join()
    return {"rc": p.returncode, "wall_s": wall, "first_line_s": first, "stdout": "".join(out), "stderr": "".join(err),
            "peak_rss_mb": peak}


def run_child(kind: str, spec: dict, timeout: float = 7200) -> dict:
    """`python -m rag.bench child KIND spec.json` → its JSON result, with its peak RSS."""
    spec_path = Path(spec["work"]) / f"spec-{kind}-{time.time_ns()}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    cmd = [sys.executable, "-m", "rag.bench", "child", kind, str(spec_path)]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=None, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": f"child {kind} failed (exit {p.returncode})", "wall_s": round(wall, 2)}
    res = json.loads(lines[-1])
    res["process_wall_s"] = round(wall, 2)
    return res


def load_questions() -> list[str]:
    if not QUESTIONS_FILE.exists():
        return ["利通区行政执法公示由哪个部门负责?", "宁夏要求什么时候前实现区市县乡村五级网上政务全覆盖?",
                "陕西省法治政府建设的主要目标是什么?", "五原县2022年行政复议案件办理情况如何?"]
    qs = []
    for line in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            qs.append(json.loads(line)["question"])
    return qs


def workload(questions: list[str]) -> list[str]:
    """The eval questions, then each again with its places swapped for other regions of the
    same level (questions about places the synthetic indexes cover, beyond the real five)."""
    from rag.text import places as rg

    by_level: dict[str, list] = {}
    for r in rg.gazetteer().values():
        by_level.setdefault(r.level, []).append(r)
    rnd = random.Random(7)
    out = list(questions)
    for q in questions:
        found = rg.find_regions(q)
        if not found:
            continue
        s = q
        for region, _, _ in sorted(found, key=lambda x: -x[1]):
            other = rnd.choice(by_level[region.level])
            s = s.replace(region.name, other.name).replace(region.short, other.short)
        out.append(s)
    return out


# ---------------------------------------------------------------- synthetic data

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
        ids, vecs = idx.vectors.all_vectors()
        pos = {int(i): n for n, i in enumerate(ids)}
        self.dim = int(vecs.shape[1])
        self.docs = []
        for rec in idx.documents():
            chunks = idx.store.doc_chunks(rec.doc_id)
            doc = idx.store.document(rec.doc_id)
            self.docs.append({"rec": rec, "doc": doc, "chunks": chunks, "sections": idx.store.sections(rec.doc_id),
                              "vecs": vecs[[pos[c.id] for c in chunks]]})
        idx.store.close()
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


# ---------------------------------------------------------------- children (run in their own process)

def _cfg(spec: dict) -> Config:
    return load_config(spec.get("config") or None)


def _model(cfg: Config):
    from rag.models.embed import make_embedding

    return make_embedding(cfg.embedding)


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
    store = ChunkStore(layout.store(vdir), readonly=False)
    lex = LexicalBuilder()
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
        lex.add(ids, toks)
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
    faiss_ms, found = [], []
    for v in qv:
        t0 = time.perf_counter()
        ids, _ = index.vectors.search(v, cand)
        faiss_ms.append((time.perf_counter() - t0) * 1000)
        found.append(ids)
    bm25_ms = []
    for q in normalized:
        t0 = time.perf_counter()
        index.lexical.search(index.tokenizer.tokens(q), cand)
        bm25_ms.append((time.perf_counter() - t0) * 1000)
    res = {
        "n_chunks": len(index.lexical), "n_documents": len(index.documents()), "faiss_kind": index.vectors.kind,
        "load_s": round(load_s, 3), "model_load_s": round(model_s, 3), "first_search_ms": round(first_s * 1000, 1),
        "search_ms": stats(lat),
        "components_ms": {"query_embedding": stats(emb_ms), "faiss_only": stats(faiss_ms),
                          "bm25_only": stats(bm25_ms), "dense_in_search": stats(dense), "lexical_in_search": stats(lexi)},
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
            for nprobe in spec.get("nprobe", [8, 16, 32, 64, 128]):
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


# ---------------------------------------------------------------- parent: the whole run

def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag", *args]


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
    import faiss

    from rag.index.layout import IndexLayout, read_manifest

    docs = work / "add-docs"
    docs.mkdir(parents=True, exist_ok=True)
    src = sorted((ROOT / "data" / "docs").glob("*.txt"))
    src = [p for p in src if "004_" in p.name] or src[-1:]
    add_s, add_inner, rm_s, rm_inner, chunks, verified, embedded = [], [], [], [], [], [], []
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
        doc_id = f.stem
        import sqlite3

        layout = IndexLayout(index_dir)
        con = sqlite3.connect(f"file:{layout.store(layout.version_dir(m['version']))}?mode=ro", uri=True)
        new_ids = [x[0] for x in con.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
        sample_text = con.execute("SELECT text FROM chunks WHERE doc_id=? LIMIT 1", (doc_id,)).fetchone()
        con.close()
        chunks.append(len(new_ids))
        r = run_process(_cli("remove", "--index", str(index_dir), "--docs", str(docs), "--json", doc_id))
        if r["rc"] != 0:
            return {"error": (r["stderr"] or r["stdout"])[-500:]}
        summary = json.loads([x for x in r["stdout"].splitlines() if '"summary"' in x][-1])
        rm_s.append(r["wall_s"])
        rm_inner.append(summary["seconds"])
        m = read_manifest(index_dir)
        vec = faiss.read_index(str(IndexLayout(index_dir).vectors(IndexLayout(index_dir).version_dir(m["version"]))))
        ok = vec.ntotal == before == m["counts"]["chunks"]
        for i in new_ids[:20]:
            try:
                vec.reconstruct(int(i))
                ok = False
            except RuntimeError:
                pass
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
            "method": "wall time of `python -m rag add --index DIR --docs D FILE` (process start, parsing, "
                      "chunking, embedding the new chunks with the real model, new version written, manifest "
                      "swapped) and of `python -m rag remove DOC_ID`; builder_s = the builder's own time. The "
                      "document is a real corpus file moved to another county with other numbers (never seen "
                      "by the embedding cache). After removal: vector count back to before, removed ids not "
                      "reconstructible, a search for the removed text never returns it"}


def guarded(label: str, fn, *a, **k):
    """Run one measurement; a failure is recorded in the result (and printed), not fatal."""
    import traceback

    try:
        return fn(*a, **k)
    except Exception as e:
        traceback.print_exc()
        log(f"{label} failed: {type(e).__name__}: {e}")
        return {"error": f"{type(e).__name__}: {str(e)[:500]}"}


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
        from rag.index.reader import Index

        Index.open(index_dir, cfg).store.close()
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
    kinds = ["flat", "ivf", "hnsw"] if n <= 200_000 else ["ivf"]
    log(f"synthetic {n}: FAISS types {', '.join(kinds)}…")
    res["faiss_types"] = run_child("ann", {**base, "kinds": kinds})
    if naive:
        log(f"synthetic {n}: naive llama-index reference…")
        nb = run_child("naive_build", {**base})
        res["naive"] = {"build": nb}
        if "error" not in nb:
            res["naive"]["serve"] = run_child("naive_serve", {**base, "queries": queries[: spec_naive_queries(n)]})
        shutil.rmtree(out / "naive", ignore_errors=True)
    log(f"synthetic {n}: add / remove one document…")
    res["add_remove"] = guarded("add/remove", add_remove, index_dir, work, runs=3 if n <= 200_000 else 1)
    # keep the disk in check: the 1M folder is several GB
    if not os.environ.get("RAG_BENCH_KEEP"):
        for name in ("vectors.npy",):
            (out / name).unlink(missing_ok=True)
    return res


NAIVE_MAX = 20_000  # llama-index's SimpleVectorStore decodes every float through dataclasses_json on load


def spec_naive_queries(n: int) -> int:
    return 60 if n <= NAIVE_MAX else 12


def naive_projection(syn: dict) -> None:
    """For sizes the naive setup was not run at: its load time and memory projected linearly
    from the largest size it ran at (its load decodes every float of every vector in Python)."""
    ran = [(int(n), r["naive"]) for n, r in syn.items() if "serve" in r.get("naive", {}) and "error" not in r["naive"]["serve"]]
    if not ran:
        return
    n0, ref = max(ran)
    for n, r in syn.items():
        if "naive" in r:
            continue
        f = int(n) / n0
        r["naive"] = {"not_run": f"above {NAIVE_MAX} chunks: projected linearly from the {n0}-chunk run",
                      "projected": {"load_s": round(ref["serve"]["load_s"] * f, 1),
                                    "search_p50_ms": round(ref["serve"]["search_ms"]["p50"] * f, 1),
                                    "disk_mb": round(ref["build"]["disk_mb"] * f, 1),
                                    "build_s": round(ref["build"]["build_s"] * f, 1)}}


def faiss_type_runs(syn: dict):
    """(size, kind, measurement) for every FAISS type measured with a parameter sweep."""
    for n, r in syn.items():
        for kind in ("flat", "ivf", "hnsw"):
            e = r.get("faiss_types", {}).get(kind)
            if e and "sweep" in e:
                yield n, kind, e


def ann_choice(syn: dict) -> dict:
    """Summarise the FAISS comparison into the reason for "auto"'s type above the threshold."""
    rows = []
    for n, kind, e in faiss_type_runs(syn):
        for s in e["sweep"]:
            rows.append({"n": int(n), "kind": kind, **{k: v for k, v in s.items() if k in ("nprobe", "efSearch")},
                         "recall_at_10": s["recall_at_10"], "p95_ms": s["search_ms"].get("p95"),
                         "build_s": e["build_s"], "remove_45_ids_s": e.get("remove_45_ids_s")})
    from rag.index.vectors import choose_kind

    def best(kind: str, n: int):
        ok = [r for r in rows if r["kind"] == kind and r["n"] == n and r["recall_at_10"] >= TARGETS["ann_recall_at_10"]]
        return min(ok, key=lambda r: r["p95_ms"] or 1e9) if ok else None

    facts = []
    for n in sorted({r["n"] for r in rows}):
        parts = []
        for kind in ("flat", "ivf", "hnsw"):
            b = best(kind, n)
            any_row = next((r for r in rows if r["kind"] == kind and r["n"] == n), None)
            if any_row is None:
                continue
            setting = (f" at nprobe {b['nprobe']}" if b and "nprobe" in b
                       else f" at efSearch {b['efSearch']}" if b and "efSearch" in b else " (exact)")
            parts.append(f"{kind}: build {any_row['build_s']} s, removing 45 ids {any_row['remove_45_ids_s']} s"
                         + (f", recall@10 ≥ {TARGETS['ann_recall_at_10']}{setting} with p95 {b['p95_ms']} ms" if b
                            else ", never reaches the recall target in the sweep"))
        facts.append(f"{n} chunks — " + "; ".join(parts))
    return {"rows": rows, "auto_above_threshold": choose_kind("auto", 10 ** 9, 1),
            "measured": facts,
            "why": "auto = exact (flat) below ann_threshold and IVF-Flat above it. IVF deletes in place (removing or "
                   "replacing a document costs milliseconds), trains in seconds on a 100k sample, and reaches the "
                   "recall target at a few ms per query; HNSW reaches similar recall and latency but cannot delete "
                   "(every removal rebuilds the graph), builds much more slowly on 2 cores and adds its graph to "
                   "memory; flat is exact but its latency grows linearly with size. See `measured` for this run's "
                   "numbers."}


def targets(result: dict) -> list[dict]:
    out = []

    def add(name, target, value, unit, cmp="<="):
        ok = None if value is None else (value <= target if cmp == "<=" else value >= target)
        out.append({"name": name, "target": f"{cmp} {target} {unit}", "value": value, "ok": ok})

    real = result.get("real", {})
    add("search p95, real index", TARGETS["search_p95_real_ms"], real.get("serve", {}).get("search_ms", {}).get("p95"), "ms")
    add("cold start to first result", TARGETS["cold_start_s"], real.get("cold_start", {}).get("p50_s"), "s")
    syn = result.get("synthetic", {}).get("sizes", {})
    for n, r in syn.items():
        rec = r.get("serve", {}).get("recall_at_10_vs_exact")
        if r.get("serve", {}).get("faiss_kind") != "flat" and rec is not None:
            add(f"ANN recall@10 vs exact, {n} chunks", TARGETS["ann_recall_at_10"], rec, "", cmp=">=")
    m = syn.get(str(MILLION))
    if m:
        add("search p95, 1M chunks", TARGETS["search_p95_1m_ms"], m.get("serve", {}).get("search_ms", {}).get("p95"), "ms")
        add("load, 1M chunks", TARGETS["load_1m_s"], m.get("serve", {}).get("load_s"), "s")
        rss = m.get("serve", {}).get("peak_rss_mb")
        add("peak RSS serving, 1M chunks", TARGETS["peak_rss_1m_gb"], round(rss / 1024, 2) if rss else None, "GB")
    h = syn.get("100000")
    if h:
        add("add one document, 100k chunks", TARGETS["add_doc_100k_s"], h.get("add_remove", {}).get("add_s_p50"), "s")
        ok = h.get("add_remove", {}).get("removed_vectors_verified")
        out.append({"name": "removing a document removes its vectors (100k)", "target": "verified", "value": ok, "ok": ok})
    return out


def table(result: dict) -> str:
    lines = []
    m = result["machine"]
    lines.append(f"rag bench — {m.get('cpu_model', '?')}, cpu_count {m['cpu_count']}, affinity {m['affinity']} cores, "
                 f"{m.get('memory_gb', '?')} GB RAM, load avg at start {m['load_avg']}, total {result['seconds_total']:.0f} s")
    real = result.get("real")
    if real:
        s = real.get("serve", {})
        b = real.get("build", {})
        a = real.get("add_remove", {})
        cs = real.get("cold_start", {})
        emb = s.get("embedding", {})
        lines.append(f"\nREAL INDEX ({s.get('n_chunks')} chunks, {s.get('n_documents')} documents, {s.get('faiss_kind')})")
        rows = [
            ("cold start → first result", f"p50 {cs.get('p50_s')} s (max {cs.get('max_s')}, n={cs.get('runs')})"),
            ("search latency", f"p50 {s.get('search_ms', {}).get('p50')} ms, p95 {s.get('search_ms', {}).get('p95')} ms (n={s.get('search_ms', {}).get('n')})"),
            ("  query embedding", _pp(s.get("components_ms", {}).get("query_embedding"))),
            ("  FAISS only", _pp(s.get("components_ms", {}).get("faiss_only"))),
            ("  BM25 only", _pp(s.get("components_ms", {}).get("bm25_only"))),
            (f"ask latency ({s.get('ask_backend')})", _pp(s.get("ask_ms")) + (f"  [{s['ask_error'][:60]}]" if s.get("ask_error") else "")),
            ("embedding throughput", f"{emb.get('chunks_per_s')} chunks/s (batch {emb.get('batch_size')}, {emb.get('model')})"),
            ("full build", f"{b.get('full_build_s')} s = {b.get('full_build_s_per_1000_chunks')} s / 1000 chunks (all embedded)"),
            ("full rebuild, cache warm", f"{b.get('rebuild_cached_s')} s = {b.get('rebuild_cached_s_per_1000_chunks')} s / 1000 chunks"),
            ("add one document", f"p50 {a.get('add_s_p50')} s (builder {a.get('add_builder_s_p50')} s; {a.get('chunks_added')} chunks)"),
            ("remove one document", f"p50 {a.get('remove_s_p50')} s; vectors gone verified: {a.get('removed_vectors_verified')}"),
        ]
        lines += [f"  {k:<28} {v}" for k, v in rows]
    syn = result.get("synthetic", {}).get("sizes", {})
    if syn:
        lines.append("\nSYNTHETIC INDEXES (derived from the real chunks; see synthetic.method)")
        head = f"  {'':<26}" + "".join(f"{n:>18}" for n in syn)
        lines.append(head)

        def row(label, fn):
            vals = []
            for r in syn.values():
                try:
                    v = fn(r)
                except (KeyError, TypeError, AttributeError):
                    v = None
                vals.append("—" if v is None else str(v))
            lines.append(f"  {label:<26}" + "".join(f"{v:>18}" for v in vals))

        row("FAISS type (auto)", lambda r: r["serve"]["faiss_kind"])
        row("build s (excl. generation)", lambda r: r["build"]["build_s_without_generation"])
        row("build s / 1000 chunks", lambda r: r["build"]["build_s_per_1000_chunks"])
        row("build peak RSS MB", lambda r: r["build"]["peak_rss_mb"])
        row("disk MB", lambda r: r["build"]["disk_mb"]["total"])
        row("  store/vectors/lexical", lambda r: "/".join(str(round(r['build']['disk_mb'][k])) for k in ("store.sqlite", "vectors.faiss", "lexical")))
        row("load s (Index.open)", lambda r: r["serve"]["load_s"])
        row("serving peak RSS MB", lambda r: r["serve"]["peak_rss_mb"])
        row("search p50 ms", lambda r: r["serve"]["search_ms"]["p50"])
        row("search p95 ms", lambda r: r["serve"]["search_ms"]["p95"])
        row("  query emb p50/p95", lambda r: _p(r["serve"]["components_ms"]["query_embedding"]))
        row("  FAISS p50/p95", lambda r: _p(r["serve"]["components_ms"]["faiss_only"]))
        row("  BM25 p50/p95", lambda r: _p(r["serve"]["components_ms"]["bm25_only"]))
        row("recall@10 vs exact", lambda r: r["serve"].get("recall_at_10_vs_exact"))
        row("cold start p50 s", lambda r: r["cold_start"]["p50_s"])
        row("add one doc s (p50)", lambda r: r["add_remove"]["add_s_p50"])
        row("remove one doc s (p50)", lambda r: r["add_remove"]["remove_s_p50"])
        row("removed vectors gone", lambda r: r["add_remove"]["removed_vectors_verified"])
        row("naive: build+persist s", lambda r: r["naive"]["build"]["build_s"] if "build" in r["naive"] else f"~{r['naive']['projected']['build_s']} (proj.)")
        row("naive: disk MB", lambda r: r["naive"]["build"]["disk_mb"] if "build" in r["naive"] else f"~{r['naive']['projected']['disk_mb']} (proj.)")
        row("naive: load s", lambda r: r["naive"]["serve"]["load_s"] if "serve" in r["naive"] else f"~{r['naive']['projected']['load_s']} (proj.)")
        row("naive: peak RSS MB", lambda r: r["naive"]["serve"]["peak_rss_mb"])
        row("naive: search p50/p95", lambda r: _p(r["naive"]["serve"]["search_ms"]) if "serve" in r["naive"] else f"~{r['naive']['projected']['search_p50_ms']} (proj.)")
        row("naive/ours search p50", lambda r: _ratio(r, "search"))
        row("naive/ours load", lambda r: _ratio(r, "load"))
        lines.append("\nFAISS TYPES (single query, top 10, recall vs exact)")
        for n, kind, e in faiss_type_runs(syn):
            sweep = ", ".join(
                (f"{'nprobe' if 'nprobe' in s else 'ef' if 'efSearch' in s else 'exact'}"
                 f"{'=' + str(s.get('nprobe', s.get('efSearch'))) if ('nprobe' in s or 'efSearch' in s) else ''}: "
                 f"R {s['recall_at_10']} p95 {s['search_ms'].get('p95')} ms")
                for s in e["sweep"])
            lines.append(f"  {n:>8} {kind:<5} build {e['build_s']} s, remove 45 ids {e.get('remove_45_ids_s')} s | {sweep}")
    t = result.get("targets", [])
    if t:
        lines.append("\nTARGETS")
        for x in t:
            mark = "ok  " if x["ok"] else ("MISS" if x["ok"] is False else "n/a ")
            lines.append(f"  [{mark}] {x['name']:<44} {x['target']:<12} measured {x['value']}")
    return "\n".join(lines)


def _ratio(r: dict, what: str) -> str:
    nv, ours = r["naive"], r["serve"]
    if "serve" in nv:
        a = nv["serve"]["search_ms"]["p50"] if what == "search" else nv["serve"]["load_s"]
        mark = ""
    else:
        a = nv["projected"]["search_p50_ms"] if what == "search" else nv["projected"]["load_s"]
        mark = " (proj.)"
    b = ours["search_ms"]["p50"] if what == "search" else max(ours["load_s"], 1e-3)
    return f"{a / b:.1f}x{mark}"


def _p(s: dict | None) -> str:
    return f"{s.get('p50')}/{s.get('p95')}" if s and s.get("n") else "—"


def _pp(s: dict | None) -> str:
    return f"p50 {s.get('p50')} ms, p95 {s.get('p95')} ms (n={s.get('n')})" if s and s.get("n") else "—"


SYNTHETIC_METHOD = (
    "Synthetic chunks are derived from the real index (the corpus's documents and chunks): copy j of a real "
    "document replaces every name of its region chain (county → city → province, full and short names) by "
    "another gazetteer region of the same level (rag/regions.py), shuffles the sentences of each chunk after "
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
    result["config"] = {"faiss": cfg.index.faiss, "ann_threshold": cfg.index.ann_threshold,
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


def _child_main(argv: list[str]) -> int:
    kind, spec_path = argv[0], argv[1]
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    res = CHILDREN[kind](spec)
    res["cores"] = cores()
    sys.stdout.write(json.dumps(res, ensure_ascii=False) + "\n")
    sys.stdout.flush()
    return 0
