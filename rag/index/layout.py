"""The index folder on disk: the one owner of its file names, manifest, versions and lock.

    index/
      manifest.json            written last, atomically (os.replace): names the current version
      v-<time>-<rand>/         one complete build (never changed once the manifest names it)
        manifest.json          the same manifest, kept with its version (fallback on damage)
        store.sqlite           documents (clean text, metadata, sections), chunks, duties
        vectors.faiss          dense vectors keyed by chunk id (vectors.py)
        lexical/               BM25 arrays over our own tokens (lexical.py)
        delta.sqlite           segmented versions only (manifest "segments"): see below
        delta/                 ... vectors.faiss (flat) and lexical/ of the delta, dead-lexical/
      .building-<rand>/        a version being written (removed if a build crashed)
      .lock                    held by the one build that may run at a time
      cache/embeddings.sqlite  vectors by (model, text hash), shared by builds
      cache/jieba-freq.sqlite  jieba's prefix dictionary, for tokenizing questions quickly
      milvus.db/               with `[index] backend = "milvus"` and no `uri`: the milvus-lite data

Segments (local backend): adding or removing a few documents in a large index does not copy
or rewrite the whole version. A new version hard-links the previous one's BASE files
(store.sqlite, vectors.faiss, lexical/: never written once published, so sharing an inode is
safe; copied where the file system refuses links) and carries a small DELTA: delta.sqlite
(the documents and chunks added since the base, with ids after the base's, and TOMBSTONES:
the base's removed documents and chunk ids), delta/vectors.faiss (exact) and delta/lexical/
(BM25 arrays of the delta) and delta/dead-lexical/ (of the tombstoned rows, for the
statistics). Readers see base − tombstones + delta: the store through TEMP views named like
its tables, dense search as the base's (tombstones dropped) merged with the delta's, BM25 with
the live collection's statistics (the same scores as one index of the live chunks). When the
delta or the tombstones outgrow `[index] delta_max_chunks`/`delta_max_share`/
`tombstone_max_share`, on a full build (`make index`), or below `segment_min_chunks`, the
builder writes a plain single base (COMPACTION, the slow path). Garbage collection removes a
version folder; a base file lives on while any kept version links it. A damaged delta is that
version's alone (the reader falls back to the previous version); a damaged base file is shared
by the versions that link it.

The search engine is the manifest's "backend" (`rag.index.backend`): `local` keeps
vectors.faiss and lexical/ in the version folder; `milvus` keeps them in a Milvus collection
the manifest names (with the sequence number of the version's rows), and the version folder
holds the store only.

Readers open the version the manifest names, so a build in progress or one that crashed never
disturbs them, and a swap while questions run does not fail them (old versions are kept for a
while). Writers (the builder, the synthetic benchmark index) go through `IndexLayout`.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from rag.config import Config
from rag.errors import BuildError, IndexCorrupt, IndexMismatch
from rag.index.backend import backend_name, manifest_backend
from rag.index.lexical import INDEX_FORMAT
from rag.ingest.chunk import CHUNKER_VERSION
from rag.models.embed import embedding_id
from rag.text.tokenize import DICTIONARY_FILE, TOKENIZER_VERSION

MANIFEST = "manifest.json"
STORE_FILE = "store.sqlite"
VECTORS_FILE = "vectors.faiss"
LEXICAL_DIR = "lexical"
DELTA_STORE = "delta.sqlite"
DELTA_DIR = "delta"
DEAD_LEXICAL_DIR = "dead-lexical"
BASE_FILES = (STORE_FILE, VECTORS_FILE, LEXICAL_DIR)  # what segmented versions share
CACHE_DIR = "cache"
EMBEDDINGS_CACHE = "embeddings.sqlite"
FORMAT_VERSION = 1
REBUILD = "rebuild it with `make index` (python -m rag build)"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write to a temporary file in the same folder, fsync, then rename over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


_manifest_cache: dict[str, tuple[bytes, dict]] = {}
_manifest_lock = threading.Lock()


def read_manifest(index_dir: Path) -> dict | None:
    """The manifest, parsed only when its bytes changed: with tens of thousands of documents
    it is megabytes, and the app checks it before every question (reading and comparing the
    bytes costs ~1 ms; parsing them ~40 ms). Callers get a shallow copy."""
    path = Path(index_dir) / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise IndexCorrupt(f"{path} is unreadable ({e}); rebuild with `make index`") from None
    hit = _manifest_cache.get(str(path))
    if hit is not None and hit[0] == raw:
        return dict(hit[1])
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as e:
        raise IndexCorrupt(f"{path} is unreadable ({e}); rebuild with `make index`") from None
    if not isinstance(data, dict) or "version" not in data:
        raise IndexCorrupt(f"{path} is not an index manifest; rebuild with `make index`")
    with _manifest_lock:
        if len(_manifest_cache) > 16:
            _manifest_cache.clear()
        _manifest_cache[str(path)] = (raw, data)
    return dict(data)


# ---------------------------------------------------------------- what a version was built with

def compat_key(cfg: Config) -> dict:
    """What must be equal for a new version to start from an old one (and for a reader)."""
    return {
        "embedding": embedding_id(cfg.embedding),
        "chunker": {"version": CHUNKER_VERSION, "max_chars": cfg.chunk.max_chars, "min_chars": cfg.chunk.min_chars},
        "lexical": TOKENIZER_VERSION,
        "lexical_format": INDEX_FORMAT,
        "backend": backend_name(cfg.index),
    }


def manifest_compat(manifest: dict) -> dict:
    return {
        "embedding": manifest.get("embedding", {}).get("id"),
        "chunker": {k: manifest.get("chunker", {}).get(k) for k in ("version", "max_chars", "min_chars")},
        "lexical": manifest.get("lexical", {}).get("tokenizer"),
        "lexical_format": manifest.get("lexical", {}).get("format"),
        "backend": manifest_backend(manifest),
    }


def check_manifest(manifest: dict, cfg: Config) -> None:
    """IndexMismatch when the index was built differently from what the configuration asks."""
    want = embedding_id(cfg.embedding)
    have = manifest.get("embedding", {}).get("id")
    if have != want:
        raise IndexMismatch(f"the index was built with embedding {have!r} but the configuration asks for {want!r}; {REBUILD}")
    ch = manifest.get("chunker", {})
    if ch.get("version") != CHUNKER_VERSION or ch.get("max_chars") != cfg.chunk.max_chars or ch.get("min_chars") != cfg.chunk.min_chars:
        raise IndexMismatch(
            f"the index was built with chunker {ch.get('version')} (max {ch.get('max_chars')}, min {ch.get('min_chars')}) "
            f"but this version uses {CHUNKER_VERSION} (max {cfg.chunk.max_chars}, min {cfg.chunk.min_chars}); {REBUILD}")
    if manifest.get("lexical", {}).get("tokenizer") != TOKENIZER_VERSION:
        raise IndexMismatch(f"the index's lexical tokenizer is outdated; {REBUILD}")
    if manifest.get("lexical", {}).get("format") != INDEX_FORMAT:
        raise IndexMismatch(f"the index's lexical index has an older format; {REBUILD}")
    have, want = manifest_backend(manifest), backend_name(cfg.index)
    if have != want:
        raise IndexMismatch(f"the index was built for the {have!r} search backend but the configuration asks for "
                            f"{want!r} ([index] backend); {REBUILD}")


def make_manifest(cfg: Config, version: str, documents: list, chunks: int, faiss_kind: str, faiss_params: dict,
                  docs_dir: Path, previous: str | None, seconds: float, backend: dict | None = None,
                  segments: dict | None = None, ingest: str = "") -> dict:
    """The manifest of a version: what it was built with, its documents and counts.
    `documents` are the live documents' results (doc_id, path, sha256, sections, chunks, duties)."""
    corpus_hash = hashlib.sha256()
    docs = {}
    for d in sorted(documents, key=lambda d: d.doc_id):
        docs[d.doc_id] = {"path": d.path, "sha256": d.sha256, "sections": d.sections, "chunks": d.chunks,
                          "duties": d.duties}
        corpus_hash.update(f"{d.doc_id}:{d.sha256}\n".encode())
    out = {
        "format": FORMAT_VERSION,
        "version": version,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": round(seconds, 3),
        "embedding": {"id": embedding_id(cfg.embedding), "backend": cfg.embedding.backend,
                      "model": cfg.embedding.model},
        "chunker": {"version": CHUNKER_VERSION, "max_chars": cfg.chunk.max_chars, "min_chars": cfg.chunk.min_chars},
        "ingest": {"fingerprint": ingest},  # the ingest code that processed the documents (rag.ingest.version)
        "lexical": {"tokenizer": TOKENIZER_VERSION, "format": INDEX_FORMAT},
        # the type "auto" chose for this size (exact below ann_threshold), and its parameters
        "faiss": {"kind": faiss_kind, "setting": cfg.index.faiss, "ann_threshold": cfg.index.ann_threshold,
                  **{k: v for k, v in faiss_params.items() if k != "kind"}},
        "corpus": {"folder": str(docs_dir), "hash": corpus_hash.hexdigest()},
        "documents": docs,
        "counts": {"documents": len(documents), "chunks": chunks,
                   "sections": sum(d.sections for d in documents), "duties": sum(d.duties for d in documents)},
        "previous": previous,
        "backend": backend or {"name": "local"},
    }
    if segments:  # a segmented version (base + delta + tombstones): its sizes
        out["segments"] = segments
    return out


# ---------------------------------------------------------------- the folder

class IndexLayout:
    """Paths and the few file operations of one index folder."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    # -- paths
    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    def version_dir(self, version: str) -> Path:
        return self.root / version

    def store(self, version_dir: Path) -> Path:
        return Path(version_dir) / STORE_FILE

    def vectors(self, version_dir: Path) -> Path:
        return Path(version_dir) / VECTORS_FILE

    def lexical(self, version_dir: Path) -> Path:
        return Path(version_dir) / LEXICAL_DIR

    def delta_store(self, version_dir: Path) -> Path:
        return Path(version_dir) / DELTA_STORE

    def delta_vectors(self, version_dir: Path) -> Path:
        return Path(version_dir) / DELTA_DIR / VECTORS_FILE

    def delta_lexical(self, version_dir: Path) -> Path:
        return Path(version_dir) / DELTA_DIR / LEXICAL_DIR

    def dead_lexical(self, version_dir: Path) -> Path:
        return Path(version_dir) / DELTA_DIR / DEAD_LEXICAL_DIR

    @staticmethod
    def link_base(src: Path, dst: Path) -> bool:
        """Share the base files of version folder `src` with the folder `dst` (hard links; a
        copy where the file system refuses them). True when every file was linked."""
        linked = True

        def put(a: Path, b: Path) -> None:
            nonlocal linked
            try:
                os.link(a, b)
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
                    raise
                linked = False
                shutil.copy2(a, b)

        for name in BASE_FILES:
            a, b = Path(src) / name, Path(dst) / name
            if a.is_dir():
                b.mkdir()
                for f in sorted(a.iterdir()):
                    put(f, b / f.name)
            else:
                put(a, b)
        return linked

    @property
    def cache_dir(self) -> Path:
        return self.root / CACHE_DIR

    @property
    def embeddings_cache(self) -> Path:
        return self.cache_dir / EMBEDDINGS_CACHE

    @property
    def dictionary(self) -> Path:
        return self.cache_dir / DICTIONARY_FILE

    # -- reading
    def read_manifest(self, version: str | None = None) -> dict | None:
        return read_manifest(self.root if version is None else self.version_dir(version))

    def has_version(self, version: str) -> bool:
        return self.store(self.version_dir(version)).exists()

    # -- writing
    @staticmethod
    def new_version_name() -> str:
        """Sortable by time to the millisecond (garbage collection keeps the newest by name;
        with seconds only, two builds in one second sorted by their random suffix)."""
        now = datetime.now(timezone.utc)
        return "v-" + now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}-" + secrets.token_hex(2)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """The one build that may run on this folder; removes what a crashed build left."""
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / ".lock", os.O_CREAT | os.O_RDWR, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BuildError(f"another build is running on {self.root}; wait for it to finish") from None
            for stale in self.root.glob(".building-*"):
                shutil.rmtree(stale, ignore_errors=True)
            yield
        finally:
            os.close(fd)

    def staging(self) -> Path:
        """A fresh hidden folder to write a version into (call under `lock`)."""
        tmp = self.root / f".building-{secrets.token_hex(4)}"
        tmp.mkdir()
        return tmp

    def commit(self, staging: Path, version: str) -> Path:
        """Move a finished staging folder into place as `version` (not yet current)."""
        target = self.version_dir(version)
        os.replace(staging, target)
        return target

    def publish(self, manifest: dict) -> None:
        """Make `manifest`'s version the current one: its own copy first, then the swap."""
        write_json_atomic(self.version_dir(manifest["version"]) / MANIFEST, manifest)
        write_json_atomic(self.manifest, manifest)

    def versions(self) -> list[Path]:
        return sorted((p for p in self.root.glob("v-*") if p.is_dir()), key=lambda p: p.name)

    def collect_garbage(self, keep: set[str], extra: int) -> list[dict]:
        """Remove old versions but `keep` and the `extra` newest others (running readers may
        still use them). Returns the manifests of the versions kept (what a search backend
        outside the folder must still serve)."""
        versions = self.versions()
        survivors = set(keep) | {p.name for p in versions[-(max(0, extra) + 1):]}
        kept = []
        for p in versions:
            if p.name not in survivors:
                shutil.rmtree(p, ignore_errors=True)
                continue
            try:
                m = read_manifest(p)
            except IndexCorrupt:
                m = None
            if m is not None:
                kept.append(m)
        return kept


def write_failure(e: OSError) -> BuildError:
    """A failed write as the one-line error that says the previous index still serves."""
    if e.errno == errno.ENOSPC:
        return BuildError("disk full while writing the index; the previous index is still in use")
    return BuildError(f"could not write the index: {e}; the previous index is still in use")
