"""Building and updating the index, atomically and incrementally.

Every change (full build, add, remove) produces a new version folder and then swaps the
manifest; readers never see a half-written index and a crash leaves the previous one serving.
When the previous version was built with the same embedding model and chunker, the new version
starts as a copy of it and only new or changed files are processed; vectors come from the
embedding cache when the same text was embedded before.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from rag.config import Config
from rag.errors import (
    BuildError,
    ConfigError,
    IndexCorrupt,
    IndexProblem,
    IndexUnavailable,
    IngestError,
    LoadError,
)
from rag.index.backend import DeltaWriter, LocalWriter, backend_name
from rag.index.embcache import EmbeddingCache, text_hash
from rag.index.layout import (
    IndexLayout,
    compat_key,
    make_manifest,
    manifest_compat,
    write_failure,
)
from rag.index.lexical import LexicalBuilder, LexicalIndex
from rag.index.store import ChunkStore
from rag.index.vectors import (
    ChunkVectorStore,
    choose_kind,
    ivf_nlist,
    ivf_training_size,
    make_faiss_index,
)
from rag.ingest.chunk import OutlineChunker
from rag.ingest.corpus import check_member, file_hash, iter_corpus
from rag.ingest.document import embed_text, header, lexical_text, load_document, process
from rag.ingest.load import Limits
from rag.ingest.version import ingest_fingerprint
from rag.models.embed import embed_passages, embedding_id, make_embedding
from rag.text.tokenize import Tokenizer, write_dictionary

Progress = Callable[[str, int, int], None]  # (stage, done, total)


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
    backend: dict = field(default_factory=lambda: {"name": "local"})  # the manifest's "backend" part
    segments: dict | None = None  # a segmented version's sizes (the manifest's "segments")
    write_mode: str = ""  # fresh | copy | delta | compact (how the version was written)
    ingest: str = ""  # the fingerprint of the ingest its documents were processed with

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
        self.tokenizer = Tokenizer()  # the full dictionary: builds tokenize many texts

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
        report = self._update_once(index_dir, docs_dir, files, remove, full, sync)
        if report.segments and self._past_limits(report.segments):
            # this change alone took the delta past its limits (many documents at once): one
            # base again now rather than serving a large delta until the next change
            try:
                compacted = self._update_once(index_dir, docs_dir, [], [], full=False, sync=False)
            except BuildError:
                return report  # another build holds the folder; the next change compacts
            report.version, report.segments = compacted.version, compacted.segments
            report.write_mode = f"{report.write_mode}+{compacted.write_mode}"
            report.faiss, report.faiss_params = compacted.faiss, compacted.faiss_params
            report.seconds += compacted.seconds
        return report

    def _update_once(self, index_dir: Path, docs_dir: Path, files: list[Path], remove: list[str] | None,
                     full: bool, sync: bool) -> BuildReport:
        t0 = time.perf_counter()
        layout = IndexLayout(index_dir)
        with layout.lock():
            try:
                prev = layout.read_manifest()
            except IndexProblem:
                prev = None  # unreadable manifest: rebuild everything
            base = prev if (prev and not full and manifest_compat(prev) == compat_key(self.cfg)
                            and layout.has_version(prev["version"])) else None
            if not sync and base is None and prev is not None and not full:
                raise BuildError("the index was built with another model or chunker; run a full build first (make index)")
            tmp = layout.staging()
            writer = None
            try:
                try:
                    report, writer = self._write_version(layout, tmp, docs_dir, files, remove, base, sync)
                except _DamagedBase as e:
                    if not sync:  # add/remove change a version: they need an intact one
                        raise BuildError(f"the current index version {e}; rebuild it with `make index` "
                                         "(python -m rag build)") from None
                    shutil.rmtree(tmp, ignore_errors=True)  # build everything again from the files
                    tmp = layout.staging()
                    report, writer = self._write_version(layout, tmp, docs_dir, files, remove, None, sync)
                version = report.version
                layout.commit(tmp, version)
            except OSError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                if writer is not None:
                    writer.abort()
                raise write_failure(e) from None
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                if writer is not None:
                    writer.abort()
                raise
            manifest = make_manifest(self.cfg, version, report.live(), report.chunks, report.faiss,
                                     report.faiss_params, docs_dir, prev["version"] if prev else None,
                                     time.perf_counter() - t0, backend=report.backend, segments=report.segments,
                                     ingest=report.ingest)
            try:
                writer.publish(manifest)  # the backend's own switch (Milvus: the alias), then the manifest's
                layout.publish(manifest)  # the swap
            except BaseException as e:
                shutil.rmtree(layout.version_dir(version), ignore_errors=True)
                writer.abort()
                if isinstance(e, OSError):
                    raise write_failure(e) from None
                raise
            kept = layout.collect_garbage(keep={version, *([prev["version"]] if prev else [])},
                                          extra=self.cfg.index.keep_versions)
            try:
                writer.drop(kept)
            except IndexProblem:
                pass  # only space: the next update collects it again
            report.seconds = time.perf_counter() - t0
            return report

    def _writer(self, layout: IndexLayout, tmp: Path, version: str, base: dict | None, base_dir: Path | None,
                store: ChunkStore):
        """The search backend's writer for this version (`rag.index.backend`)."""
        if backend_name(self.cfg.index) == "milvus":
            from rag.index.milvus import MilvusWriter

            return MilvusWriter(self.cfg, layout, version, base, self._dim)
        writer = LocalWriter(self, layout, tmp, base_dir, store)
        writer.open_base()
        return writer

    def _write_version(self, layout: IndexLayout, tmp: Path, docs_dir: Path, files: list[Path],
                       remove: list[str] | None, base: dict | None, sync: bool):
        """Write a version into `tmp`; returns (report, the backend writer to publish with)."""
        version = layout.new_version_name()
        report = BuildReport(version=version, index_dir=str(layout.root))
        base_dir = layout.version_dir(base["version"]) if base is not None else None
        mode = self._mode(base, sync)
        report.write_mode = mode
        store = None
        writer = None
        try:
            if mode == "delta":  # share the base files, copy the small delta
                layout.link_base(base_dir, tmp)
                if layout.delta_store(base_dir).exists():
                    shutil.copy2(layout.delta_store(base_dir), layout.delta_store(tmp))
                store = ChunkStore(layout.store(tmp), readonly=False, delta=layout.delta_store(tmp))
                writer = DeltaWriter(self, layout, tmp, base_dir, store)
                writer.open_base()
            else:
                if base_dir is not None:
                    shutil.copy2(layout.store(base_dir), layout.store(tmp))
                store = ChunkStore(layout.store(tmp), readonly=False, term_df=backend_name(self.cfg.index) != "local")
                writer = self._writer(layout, tmp, version, base, base_dir, store)
            n_base = writer.base_count()
            if n_base is not None and n_base != store.count_chunks():
                raise IndexCorrupt("its vectors and chunks differ")
            if mode == "compact":  # the previous version's delta and tombstones into one base
                dead, added = store.absorb(layout.delta_store(base_dir))
                writer.absorb(base_dir, dead, added)
            known = {d.doc_id: d for d in store.documents()}
        except Exception as e:  # a damaged version is not built upon
            if store is not None:
                store.close()
            if base is None or isinstance(e, (OSError, IndexUnavailable, ConfigError)):
                raise
            raise _DamagedBase(f"{base['version']} is damaged ({str(e).splitlines()[0][:200]})") from None
        # documents processed by another ingest (the code was upgraded): a build processes them all
        # again; an add or remove leaves the others as they are, and the old fingerprint with them
        base_ingest = base.get("ingest", {}).get("fingerprint", "") if base is not None else ingest_fingerprint()
        reprocess = sync and base_ingest != ingest_fingerprint()
        report.ingest = ingest_fingerprint() if sync else base_ingest
        try:
            self._fill(writer, store, report, docs_dir, files, remove, known, sync, layout, reprocess)
            report.backend = writer.finish()
        except BaseException:
            writer.abort()
            store.close()
            raise
        if isinstance(writer, (LocalWriter, DeltaWriter)):
            report.faiss, report.faiss_params = writer.faiss_kind, writer.faiss_params
            report.segments = writer.segments
        else:
            report.faiss, report.faiss_params = report.backend.get("engine", "milvus"), {"kind": "milvus"}
        try:  # questions are tokenized without loading jieba's whole dictionary (cold start)
            write_dictionary(layout.dictionary)
        except (OSError, sqlite3.Error):
            pass  # only an optimisation
        if store.free_fraction() > 0.25:  # many deletions: worth rewriting the file
            store.vacuum()
        report.chunks = store.count_chunks()
        store.close()
        return report, writer

    def _mode(self, base: dict | None, sync: bool) -> str:
        """How the new version is written from `base` (the previous version's manifest):
        fresh (no base), copy (today's plain path: the store copied, the engines rewritten),
        delta (segments: the base files shared, a small delta written) or compact (the
        previous version is segmented and this one is a plain base again)."""
        if base is None:
            return "fresh"
        ic = self.cfg.index
        seg = base.get("segments") or None
        plain = "compact" if seg else "copy"
        if not ic.segments or sync or backend_name(ic) != "local":
            return plain
        base_chunks = int(seg["base_chunks"]) if seg else int(base.get("counts", {}).get("chunks", 0))
        if base_chunks < ic.segment_min_chunks:
            return plain
        if seg and self._past_limits(seg):
            return plain  # the delta or the tombstones grew too large: one base again
        return "delta"

    def _past_limits(self, seg: dict) -> bool:
        """Whether a segmented version's delta or tombstones outgrew `[index]`'s shares."""
        ic, base_chunks = self.cfg.index, int(seg.get("base_chunks", 0))
        return (seg.get("delta_chunks", 0) > max(ic.delta_max_chunks, ic.delta_max_share * base_chunks)
                or seg.get("tombstones", 0) > ic.tombstone_max_share * base_chunks)

    def _fill(self, writer, store: ChunkStore, report: BuildReport, docs_dir: Path, files: list[Path],
              remove: list[str] | None, known: dict, sync: bool, layout: IndexLayout, reprocess: bool = False) -> None:
        """Remove and (re)process documents: rows into the store, vectors and tokens into the
        backend writer; with `reprocess`, unchanged files too."""
        new_tokens: list[list[str]] = []  # lexical tokens of new_chunks, same order
        new_docs: list[str] = []  # doc_id of each new chunk

        # what changes
        wanted: dict[str, Path] = {}
        for f in files:
            try:
                wanted[check_member(f, docs_dir)] = f
            except LoadError as e:
                report.documents.append(DocResult("", str(f), "failed", str(e)))
        to_remove = set(remove or [])
        if sync:
            to_remove |= set(known) - set(wanted)
        for doc_id in sorted(to_remove):
            if doc_id not in known:
                report.documents.append(DocResult(doc_id, "", "failed", f"no document {doc_id!r} in the index"))
                continue
            writer.remove(store.delete_document(doc_id))
            report.documents.append(DocResult(doc_id, known[doc_id].path, "removed"))

        if wanted:
            self.tokenizer.load_full()  # many texts to tokenize: the in-memory dictionary
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
            if old is not None and old.sha256 == sha and doc_id not in to_remove and not reprocess:
                report.documents.append(DocResult(doc_id, old.path, "unchanged", sections=old.n_sections,
                                                  chunks=old.n_chunks, duties=old.n_duties, sha256=sha))
                continue
            try:
                doc = load_document(path, docs_dir, Limits.of(self.cfg.corpus))
                p = process(doc, self.chunker)
            except IngestError as e:
                report.documents.append(DocResult(doc_id, str(path), "failed", str(e)))
                continue
            except Exception as e:  # a parser bug must not stop the other documents
                report.documents.append(DocResult(doc_id, str(path), "failed", f"{path.name}: {type(e).__name__}: {e}"))
                continue
            if old is not None:
                writer.remove(store.delete_document(doc_id))
            hdr = header(doc)
            texts = [embed_text(doc, c) for c in p.chunks]
            hashes = [text_hash(t) for t in texts]
            tokens = [self.tokenizer.tokens(lexical_text(hdr, c)) for c in p.chunks]
            ids = store.put_document(doc, p.sections, p.chunks, texts, hashes, tokens)
            new_chunks += list(zip(ids, texts, hashes))
            new_tokens += tokens
            new_docs += [doc_id] * len(ids)
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
        vecs = self._embed(layout, new_chunks, report)
        writer.add(np.array([i for i, _, _ in new_chunks], dtype=np.int64), vecs, new_tokens, new_docs)

    def _lexical(self, base_lexical: Path | None, store: ChunkStore, removed_ids: list[int],
                 new_ids: list[int], new_tokens: list[list[str]]) -> LexicalIndex:
        """The previous version's lexical index updated with the changes (array operations),
        or, for a fresh build, one streamed from the stored tokens."""
        n = store.count_chunks()
        if base_lexical is not None:
            try:
                prev = LexicalIndex.load(base_lexical, mmap=True)
                lex = prev.updated(removed_ids, new_ids, new_tokens)
                if len(lex) == n:
                    return lex
            except (OSError, ValueError, KeyError):
                pass  # an older format or a damaged folder: rebuild below
        builder = LexicalBuilder()
        for ids, toks in store.iter_tokens():
            builder.add(ids, toks)
        return builder.finish()

    def _embed(self, layout: IndexLayout, new_chunks: list[tuple[int, str, str]], report: BuildReport) -> np.ndarray | None:
        """Vectors of the new chunks (from the embedding cache, or the model for new text)."""
        model_id = embedding_id(self.cfg.embedding)
        cache = EmbeddingCache(layout.embeddings_cache)
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
        return np.vstack([cached[h] for _, _, h in new_chunks]) if new_chunks else None

    def _add_vectors(self, vectors: ChunkVectorStore | None, ids: np.ndarray, vecs: np.ndarray | None) -> ChunkVectorStore:
        """FAISS with the new vectors added; the type re-chosen for the new size (local backend)."""
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
