"""Building and updating the index, atomically and incrementally.

Every change (full build, add, remove) produces a new version folder and then swaps the
manifest; readers never see a half-written index and a crash leaves the previous one serving.
When the previous version was built with the same embedding model and chunker, the new version
starts as a copy of it and only new or changed files are processed; vectors come from the
embedding cache when the same text was embedded before.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import secrets
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from rag.config import Config
from rag.index import lexical
from rag.index.embcache import EmbeddingCache, text_hash
from rag.index.store import (
    FORMAT_VERSION,
    LEXICAL_DIR,
    MANIFEST,
    STORE_FILE,
    VECTORS_FILE,
    ChunkStore,
    IndexCorrupt,
    IndexError_,
    read_manifest,
    write_json_atomic,
)
from rag.index.vectors import (
    ChunkVectorStore,
    choose_kind,
    ivf_nlist,
    ivf_training_size,
    make_faiss_index,
)
from rag.ingest.chunk import CHUNKER_VERSION, OutlineChunker
from rag.ingest.document import (
    IngestError,
    doc_id_for,
    embed_text,
    file_hash,
    header,
    lexical_text,
    load_document,
    process,
)
from rag.ingest.load import iter_corpus
from rag.models.embed import embed_passages, embedding_id, make_embedding

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class BuildError(RuntimeError):
    pass


class _DamagedBase(RuntimeError):
    """The version an update would start from cannot be read."""


@dataclass
class DocResult:
    doc_id: str
    path: str
    status: str  # added | updated | unchanged | removed | failed
    reason: str = ""
    sections: int = 0
    chunks: int = 0
    duties: int = 0
    sha256: str = ""


@dataclass
class BuildReport:
    version: str
    index_dir: str
    documents: list[DocResult] = field(default_factory=list)
    chunks: int = 0
    embedded: int = 0  # texts sent to the model
    cached: int = 0  # vectors reused from the cache
    seconds: float = 0.0
    faiss: str = ""
    faiss_params: dict = field(default_factory=dict)  # type and parameters (ChunkVectorStore.describe)

    def count(self, status: str) -> int:
        return sum(d.status == status for d in self.documents)

    def summary(self) -> str:
        parts = [f"{self.count(s)} {s}" for s in ("added", "updated", "removed", "unchanged", "failed") if self.count(s)]
        return (f"index {self.version}: {len(self.live())} documents, {self.chunks} chunks "
                f"({', '.join(parts) or 'no changes'}); embedded {self.embedded}, cached {self.cached}; "
                f"{self.faiss} vectors; {self.seconds:.1f}s → {self.index_dir}")

    def live(self) -> list[DocResult]:
        return [d for d in self.documents if d.status in ("added", "updated", "unchanged")]

    def to_dict(self) -> dict:
        return asdict(self)


def _compat_key(cfg: Config, dim: int | None = None) -> dict:
    return {
        "embedding": embedding_id(cfg.embedding),
        "chunker": {"version": CHUNKER_VERSION, "max_chars": cfg.chunk.max_chars, "min_chars": cfg.chunk.min_chars},
        "lexical": lexical.TOKENIZER_VERSION,
        "lexical_format": lexical.INDEX_FORMAT,
    }


def manifest_compat(manifest: dict) -> dict:
    return {
        "embedding": manifest.get("embedding", {}).get("id"),
        "chunker": {k: manifest.get("chunker", {}).get(k) for k in ("version", "max_chars", "min_chars")},
        "lexical": manifest.get("lexical", {}).get("tokenizer"),
        "lexical_format": manifest.get("lexical", {}).get("format"),
    }


@contextmanager
def _build_lock(index_dir: Path):
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError(f"another build is running on {index_dir}; wait for it to finish") from None
        for stale in index_dir.glob(".building-*"):  # left by a crashed build
            shutil.rmtree(stale, ignore_errors=True)
        yield
    finally:
        os.close(fd)


def _ivf_outgrown(vectors: ChunkVectorStore, total: int) -> bool:
    """An IVF index whose list count is less than half what its size now calls for (trained
    at 50k, grown to 1M by additions): its lists got long and slow, so retrain."""
    if vectors.kind != "ivf":
        return False
    import faiss

    return ivf_nlist(total) > 2 * faiss.extract_index_ivf(vectors.faiss_index).nlist


class IndexBuilder:
    """Builds, updates and removes documents in an index folder."""

    def __init__(self, cfg: Config, embed_model=None, progress: Progress | None = None):
        self.cfg = cfg
        self._embed_model = embed_model
        self.progress = progress or (lambda stage, done, total: None)
        self.chunker = OutlineChunker(cfg.chunk.max_chars, cfg.chunk.min_chars)

    @property
    def embed_model(self):
        if self._embed_model is None:
            self._embed_model = make_embedding(self.cfg.embedding)
        return self._embed_model

    # -- public operations
    def build(self, docs_dir: Path, index_dir: Path, full: bool = False) -> BuildReport:
        """Make the index match the corpus folder: new and changed files are processed,
        files gone from the folder are removed, the rest is kept as is."""
        docs_dir = Path(docs_dir)
        if not docs_dir.is_dir():
            raise BuildError(f"corpus folder not found: {docs_dir}")
        files = list(iter_corpus(docs_dir))
        if not files:
            raise BuildError(f"no supported documents (.txt .md .html .docx .pdf) in {docs_dir}")
        return self._update(Path(index_dir), docs_dir, files, remove=None, full=full, sync=True)

    def add(self, paths: list[Path], docs_dir: Path, index_dir: Path) -> BuildReport:
        """Add or replace these files (inside the corpus folder) in the index."""
        return self._update(Path(index_dir), Path(docs_dir), [Path(p) for p in paths], remove=None, full=False, sync=False)

    def remove(self, doc_ids: list[str], docs_dir: Path, index_dir: Path) -> BuildReport:
        return self._update(Path(index_dir), Path(docs_dir), [], remove=list(doc_ids), full=False, sync=False)

    # -- the one code path all three share
    def _update(self, index_dir: Path, docs_dir: Path, files: list[Path], remove: list[str] | None,
                full: bool, sync: bool) -> BuildReport:
        t0 = time.perf_counter()
        with _build_lock(index_dir):
            try:
                prev = read_manifest(index_dir)
            except IndexError_:
                prev = None  # unreadable manifest: rebuild everything
            base = prev if (prev and not full and manifest_compat(prev) == _compat_key(self.cfg)
                            and (index_dir / prev["version"] / STORE_FILE).exists()) else None
            if not sync and base is None and prev is not None and not full:
                raise BuildError("the index was built with another model or chunker; run a full build first (make index)")
            tmp = index_dir / f".building-{secrets.token_hex(4)}"
            tmp.mkdir()
            try:
                try:
                    report = self._write_version(index_dir, tmp, docs_dir, files, remove, base, sync)
                except _DamagedBase as e:
                    if not sync:  # add/remove change a version: they need an intact one
                        raise BuildError(f"the current index version {e}; rebuild it with `make index` "
                                         "(python -m rag build)") from None
                    shutil.rmtree(tmp, ignore_errors=True)  # build everything again from the files
                    tmp.mkdir()
                    report = self._write_version(index_dir, tmp, docs_dir, files, remove, None, sync)
                version = report.version
                os.replace(tmp, index_dir / version)
            except OSError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                if e.errno == errno.ENOSPC:
                    raise BuildError("disk full while writing the index; the previous index is still in use") from None
                raise BuildError(f"could not write the index: {e}; the previous index is still in use") from None
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            manifest = self._manifest(report, docs_dir, prev, time.perf_counter() - t0)
            write_json_atomic(index_dir / version / MANIFEST, manifest)
            write_json_atomic(index_dir / MANIFEST, manifest)  # the swap
            self._collect_garbage(index_dir, keep={version, *( [prev["version"]] if prev else [])})
            report.seconds = time.perf_counter() - t0
            return report

    def _write_version(self, index_dir: Path, tmp: Path, docs_dir: Path, files: list[Path],
                       remove: list[str] | None, base: dict | None, sync: bool) -> BuildReport:
        version = "v-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)
        report = BuildReport(version=version, index_dir=str(index_dir))
        if base is not None:
            shutil.copy2(index_dir / base["version"] / STORE_FILE, tmp / STORE_FILE)
        store = None
        vectors = None
        try:
            store = ChunkStore(tmp / STORE_FILE, readonly=False)
            if base is not None:
                vectors = ChunkVectorStore.load(index_dir / base["version"] / VECTORS_FILE)
            known = {d.doc_id: d for d in store.documents()}
            if vectors is not None and len(vectors) != store.count_chunks():
                raise IndexCorrupt("its vectors and chunks differ")
        except Exception as e:  # a damaged version is not built upon
            if store is not None:
                store.close()
            if base is None or isinstance(e, OSError):
                raise
            raise _DamagedBase(f"{base['version']} is damaged ({str(e).splitlines()[0][:200]})") from None
        removed_ids: list[int] = []  # chunk ids gone (removed or replaced documents)
        new_tokens: list[list[str]] = []  # lexical tokens of new_chunks, same order

        # what changes
        wanted: dict[str, Path] = {}
        for f in files:
            try:
                wanted[doc_id_for(f, docs_dir)] = f
            except ValueError:
                report.documents.append(DocResult("", str(f), "failed", f"{f} is outside the corpus folder {docs_dir}"))
        to_remove = set(remove or [])
        if sync:
            to_remove |= set(known) - set(wanted)
        for doc_id in sorted(to_remove):
            if doc_id not in known:
                report.documents.append(DocResult(doc_id, "", "failed", f"no document {doc_id!r} in the index"))
                continue
            ids = store.delete_document(doc_id)
            removed_ids += ids
            if vectors is not None:
                vectors.remove_ids(ids)
            report.documents.append(DocResult(doc_id, known[doc_id].path, "removed"))

        if wanted:
            lexical.load_full_dictionary()  # many texts to tokenize: the in-memory dictionary
        new_chunks: list[tuple[int, str, str]] = []  # (id, embed text, hash)
        total = len(wanted)
        for n, (doc_id, path) in enumerate(sorted(wanted.items()), 1):
            self.progress("documents", n, total)
            old = known.get(doc_id)
            try:
                sha = file_hash(path)
            except OSError as e:
                report.documents.append(DocResult(doc_id, str(path), "failed", f"{path.name}: cannot read ({e.strerror})"))
                continue
            if old is not None and old.sha256 == sha and doc_id not in to_remove:
                report.documents.append(DocResult(doc_id, old.path, "unchanged", sections=old.n_sections,
                                                  chunks=old.n_chunks, duties=old.n_duties, sha256=sha))
                continue
            try:
                doc = load_document(path, docs_dir)
                p = process(doc, self.chunker)
            except IngestError as e:
                report.documents.append(DocResult(doc_id, str(path), "failed", str(e)))
                continue
            except Exception as e:  # a parser bug must not stop the other documents
                report.documents.append(DocResult(doc_id, str(path), "failed", f"{path.name}: {type(e).__name__}: {e}"))
                continue
            if old is not None:
                ids = store.delete_document(doc_id)
                removed_ids += ids
                if vectors is not None:
                    vectors.remove_ids(ids)
            hdr = header(doc)
            texts = [embed_text(doc, c) for c in p.chunks]
            hashes = [text_hash(t) for t in texts]
            tokens = [lexical.tokenize(lexical_text(hdr, c)) for c in p.chunks]
            ids = store.put_document(doc, p.sections, p.chunks, texts, hashes, tokens)
            new_chunks += list(zip(ids, texts, hashes))
            new_tokens += tokens
            report.documents.append(DocResult(doc_id, doc.path, "updated" if old else "added",
                                              sections=len(p.sections), chunks=len(p.chunks),
                                              duties=sum(len(c.duties) for c in p.chunks), sha256=doc.source_hash))
        touched = {d.doc_id for d in report.documents}
        for doc_id, old in known.items():  # documents this change did not touch stay as they are
            if doc_id not in touched:
                report.documents.append(DocResult(doc_id, old.path, "unchanged", sections=old.n_sections,
                                                  chunks=old.n_chunks, duties=old.n_duties, sha256=old.sha256))
        if not any(d.status in ("added", "updated", "unchanged") for d in report.documents) and store.count_chunks() == 0:
            reasons = "; ".join(d.reason for d in report.documents if d.status == "failed")
            raise BuildError(f"no document could be indexed{': ' + reasons if reasons else ''}")

        vectors = self._embed_and_add(index_dir, store, vectors, new_chunks, report)
        vectors.persist(str(tmp / VECTORS_FILE))
        report.faiss = vectors.kind
        report.faiss_params = vectors.describe()
        del vectors  # a million vectors need not stay in memory while the lexical index is built
        self.progress("lexical", 0, 1)
        lex = self._lexical(index_dir, base, store, removed_ids, new_chunks, new_tokens)
        lex.save(tmp / LEXICAL_DIR)
        self.progress("lexical", 1, 1)
        try:  # questions are tokenized without loading jieba's whole dictionary (cold start)
            lexical.write_query_dictionary(index_dir / "cache")
        except (OSError, sqlite3.Error):
            pass  # only an optimisation
        if store.free_fraction() > 0.25:  # many deletions: worth rewriting the file
            store.vacuum()
        store.close()
        report.chunks = len(lex)
        return report

    def _lexical(self, index_dir: Path, base: dict | None, store: ChunkStore, removed_ids: list[int],
                 new_chunks: list[tuple[int, str, str]], new_tokens: list[list[str]]) -> lexical.LexicalIndex:
        """The previous version's lexical index updated with the changes (array operations),
        or, for a fresh build, one streamed from the stored tokens."""
        n = store.count_chunks()
        if base is not None:
            try:
                prev = lexical.LexicalIndex.load(index_dir / base["version"] / LEXICAL_DIR, mmap=True)
                lex = prev.updated(removed_ids, [i for i, _, _ in new_chunks], new_tokens)
                if len(lex) == n:
                    return lex
            except (OSError, ValueError, KeyError):
                pass  # an older format or a damaged folder: rebuild below
        builder = lexical.LexicalBuilder()
        for ids, toks in store.iter_tokens():
            builder.add(ids, toks)
        return builder.finish()

    def _embed_and_add(self, index_dir: Path, store: ChunkStore, vectors: ChunkVectorStore | None,
                       new_chunks: list[tuple[int, str, str]], report: BuildReport) -> ChunkVectorStore:
        model_id = embedding_id(self.cfg.embedding)
        cache = EmbeddingCache(index_dir / "cache" / "embeddings.sqlite")
        try:
            hashes = [h for _, _, h in new_chunks]
            cached = cache.get_many(model_id, hashes)
            missing = [(i, t, h) for i, t, h in new_chunks if h not in cached]
            if missing:
                vecs = embed_passages(self.embed_model, [t for _, t, _ in missing], self.cfg.embedding.batch_size,
                                      progress=lambda d, t: self.progress("embedding", d, t))
                cache.put_many(model_id, [h for _, _, h in missing], vecs)
                cached.update({h: v for (_, _, h), v in zip(missing, vecs)})
            report.embedded, report.cached = len(missing), len(new_chunks) - len(missing)
        finally:
            cache.close()
        ids = np.array([i for i, _, _ in new_chunks], dtype=np.int64)
        vecs = np.vstack([cached[h] for _, _, h in new_chunks]) if new_chunks else None
        total = (len(vectors) if vectors is not None else 0) + len(ids)
        kind = choose_kind(self.cfg.index.faiss, total, self.cfg.index.ann_threshold)
        params = dict(hnsw_ef_search=self.cfg.index.hnsw_ef_search, ivf_nprobe=self.cfg.index.ivf_nprobe)
        if vectors is None or vectors.kind != kind or _ivf_outgrown(vectors, total):
            # a fresh index, the size crossed the threshold, or an IVF index grew far beyond
            # what its lists were trained for: (re)build with the right type
            old_ids, old_vecs = vectors.all_vectors() if vectors is not None else (np.zeros(0, np.int64), None)
            all_ids = np.concatenate([old_ids, ids]) if len(old_ids) else ids
            parts = [v for v in (old_vecs if len(old_ids) else None, vecs) if v is not None]
            if not parts:
                dim = self._dim()
                all_vecs = np.zeros((0, dim), np.float32)
            else:
                all_vecs = np.vstack(parts)
            dim = all_vecs.shape[1] if all_vecs.size else self._dim()
            sample = (all_vecs[np.random.default_rng(0).permutation(len(all_vecs))[:ivf_training_size(len(all_vecs))]]
                      if kind == "ivf" else None)
            index = make_faiss_index(dim, kind, train=sample, hnsw_m=self.cfg.index.hnsw_m, n_expected=len(all_vecs))
            vectors = ChunkVectorStore(index, **params)
            self.progress("vectors", 0, len(all_ids))
            vectors.add_vectors(all_ids, all_vecs)
        else:
            vectors = ChunkVectorStore(vectors.faiss_index, **params)
            if vecs is not None:
                vectors.add_vectors(ids, vecs)
        return vectors

    def _dim(self) -> int:
        return len(self.embed_model.get_query_embedding("维度"))

    def _manifest(self, report: BuildReport, docs_dir: Path, prev: dict | None, seconds: float) -> dict:
        live = report.live()
        corpus_hash = hashlib.sha256()
        docs = {}
        for d in sorted(live, key=lambda d: d.doc_id):
            docs[d.doc_id] = {"path": d.path, "sha256": d.sha256, "sections": d.sections, "chunks": d.chunks,
                              "duties": d.duties}
            corpus_hash.update(f"{d.doc_id}:{d.sha256}\n".encode())
        return {
            "format": FORMAT_VERSION,
            "version": report.version,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(seconds, 3),
            "embedding": {"id": embedding_id(self.cfg.embedding), "backend": self.cfg.embedding.backend,
                          "model": self.cfg.embedding.model},
            "chunker": {"version": CHUNKER_VERSION, "max_chars": self.cfg.chunk.max_chars,
                        "min_chars": self.cfg.chunk.min_chars},
            "lexical": {"tokenizer": lexical.TOKENIZER_VERSION, "format": lexical.INDEX_FORMAT},
            # the type "auto" chose for this size (exact below ann_threshold), and its parameters
            "faiss": {"kind": report.faiss, "setting": self.cfg.index.faiss, "ann_threshold": self.cfg.index.ann_threshold,
                      **{k: v for k, v in report.faiss_params.items() if k != "kind"}},
            "corpus": {"folder": str(docs_dir), "hash": corpus_hash.hexdigest()},
            "documents": docs,
            "counts": {"documents": len(live), "chunks": report.chunks,
                       "sections": sum(d.sections for d in live), "duties": sum(d.duties for d in live)},
            "previous": prev["version"] if prev else None,
        }

    def _collect_garbage(self, index_dir: Path, keep: set[str]) -> None:
        versions = sorted((p for p in index_dir.glob("v-*") if p.is_dir()), key=lambda p: p.name)
        extra = max(0, self.cfg.index.keep_versions)
        survivors = set(keep) | {p.name for p in versions[-(extra + 1):]}
        for p in versions:
            if p.name not in survivors:
                shutil.rmtree(p, ignore_errors=True)
