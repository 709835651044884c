"""The search backend: the one interface between the hybrid retriever / the builder and the
engine that holds the searchable part of an index.

    reader side  SearchBackend  search_dense(vector, k, docs) · search_lexical(tokens, k, docs)
                                · doc_freq · count · describe
    writer side  BackendWriter  remove(chunk ids) · add(ids, vectors, tokens) · finish → manifest part
                                · publish (before the manifest swap) · drop(versions gone)

Two implementations, chosen by `[index] backend`:

- `local` (the default): FAISS by chunk id (`vectors.py`) and the project's BM25 arrays
  (`lexical.py`) in the version folder; measured to a million chunks on one machine.
- `milvus` (`rag.index.milvus`): one shared Milvus (milvus-lite file for tests and small
  installs, or a standalone/cluster server at `http://host:19530`) holding the dense vectors
  and Milvus's built-in BM25 over the project's own tokens.

Both keep the chunk rows, document texts and outlines in the version's SQLite store
(`store.py`); a search returns (chunk id, score) pairs and the retriever fetches the chunks
from the store of the same version (`Index.chunks`), so fetching is not the engine's job and a
question never mixes two versions' rows. Fusion, region tiers, reranking and answers are the
project's and identical for both backends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Protocol, runtime_checkable

import numpy as np

from rag.config import Config, IndexConfig
from rag.errors import ConfigError, IndexCorrupt

BACKENDS = ("local", "milvus")
REBUILD = "rebuild it with `make index` (python -m rag build)"  # = rag.index.layout.REBUILD (which imports this)
Scored = list[tuple[int, float]]  # (chunk id, score), best first


@runtime_checkable
class SearchBackend(Protocol):
    """What a retriever may ask of an opened index's search engine."""

    name: str
    bigrams: bool  # whether lexical queries carry character bigrams (as the indexed tokens do)
    remote: bool  # searches are network calls (the retriever may run the two concurrently)

    def search_dense(self, query_vec: np.ndarray, k: int, docs: Iterable[str] | None = None) -> Scored:
        """Nearest chunks by inner product; `docs` limits the search to these documents."""

    def search_lexical(self, tokens: list[str], k: int, docs: Iterable[str] | None = None) -> Scored:
        """BM25 over the project's tokens (positive scores only); `docs` as for `search_dense`."""

    def doc_freq(self, tokens: list[str]) -> dict[str, int]:
        """How many chunks contain each token (the answer stage's IDF)."""

    def count(self) -> int:
        """Chunks searchable in this version."""

    def describe(self) -> dict:
        """Engine, its parameters and sizes (for status lines and the benchmark)."""

    def close(self) -> None: ...


class BackendWriter(Protocol):
    """What the builder asks of the engine while it writes one new version."""

    def base_count(self) -> int | None:
        """Chunks the version it starts from holds in the engine (None for a fresh build): the
        builder compares it with the store to refuse building on a damaged version."""

    def remove(self, chunk_ids: list[int]) -> None: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray | None, tokens: list[list[str]],
            doc_ids: list[str] | None = None) -> None: ...

    def finish(self) -> dict:
        """Write what stays in the staging folder; returns the manifest's "backend" part."""

    def publish(self, manifest: dict) -> None:
        """Make the new version's engine state current (before the manifest swap)."""

    def abort(self) -> None:
        """Undo what `add`/`remove` did outside the staging folder (a failed build)."""

    def drop(self, manifests: list[dict]) -> None:
        """Release what only these removed versions used (after garbage collection)."""


def backend_name(cfg: IndexConfig) -> str:
    name = (cfg.backend or "local").strip().lower()
    if name not in BACKENDS:
        raise ConfigError(f"unknown index backend {cfg.backend!r} (known: {', '.join(BACKENDS)}); set [index] backend")
    return name


def manifest_backend(manifest: dict) -> str:
    return (manifest.get("backend") or {}).get("name", "local")


# ---------------------------------------------------------------- local: FAISS + BM25 arrays

class LocalBackend:
    """Today's engine: `ChunkVectorStore` (FAISS) and `LexicalIndex` (BM25) of one version
    folder, memory-mapped; document filters become chunk-id filters through the store."""

    name = "local"
    remote = False  # in-process arrays: ~1 ms, not worth a thread hop

    def __init__(self, vectors, lexical, store):
        self.vectors, self.lexical, self.store = vectors, lexical, store
        self.bigrams = lexical.bigrams
        self._scope_cache: dict[frozenset, np.ndarray] = {}

    @classmethod
    def open(cls, layout, vdir: Path, store, params: dict) -> "LocalBackend":
        from rag.index.lexical import LexicalIndex
        from rag.index.vectors import ChunkVectorStore

        try:
            vectors = ChunkVectorStore.load(layout.vectors(vdir), mmap=True, **params)  # a version never changes
        except Exception as e:
            raise IndexCorrupt(f"{layout.vectors(vdir)} is unreadable ({str(e).splitlines()[0][:200]}); {REBUILD}") from None
        try:  # memory-mapped: the files of a version never change
            lex = LexicalIndex.load(layout.lexical(vdir), mmap=True)
        except Exception as e:
            raise IndexCorrupt(f"the lexical index in {vdir} is unreadable ({type(e).__name__}); {REBUILD}") from None
        if getattr(store, "segmented", False):
            vectors, lex = cls._segments(layout, vdir, store, vectors, lex, params)
        return cls(vectors, lex, store)

    @staticmethod
    def _segments(layout, vdir: Path, store, vectors, lex, params: dict):
        """The base's engines combined with the version's delta and tombstones."""
        from rag.index.lexical import LexicalIndex
        from rag.index.lexical_segments import SegmentedLexical
        from rag.index.vectors import ChunkVectorStore, SegmentedVectorStore

        try:
            delta = ChunkVectorStore.load(layout.delta_vectors(vdir), **params)
            dead = store.dead_chunk_ids()
            seg_vectors = SegmentedVectorStore(vectors.faiss_index, delta, dead, **params)
        except Exception as e:
            raise IndexCorrupt(f"the delta vectors in {vdir} are unreadable ({str(e).splitlines()[0][:200]}); "
                               f"{REBUILD}") from None
        try:
            seg_lex = SegmentedLexical(lex, LexicalIndex.load(layout.delta_lexical(vdir)),
                                       LexicalIndex.load(layout.dead_lexical(vdir)))
        except Exception as e:
            raise IndexCorrupt(f"the delta lexical index in {vdir} is unreadable ({type(e).__name__}); "
                               f"{REBUILD}") from None
        return seg_vectors, seg_lex

    def allowed_ids(self, docs: Iterable[str] | None) -> np.ndarray | None:
        """Chunk ids of these documents (cached: filters repeat)."""
        if docs is None:
            return None
        key = frozenset(docs)
        ids = self._scope_cache.get(key)
        if ids is None:
            ids = np.asarray(self.store.chunk_ids(sorted(key)), dtype=np.int64)
            if len(self._scope_cache) > 256:
                self._scope_cache.clear()
            self._scope_cache[key] = ids
        return ids

    def search_dense(self, query_vec, k, docs=None) -> Scored:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        # through the llama-index vector store's query(), the dense path retrievers use
        res = self.vectors.query(VectorStoreQuery(query_embedding=query_vec, similarity_top_k=k),
                                 allowed_ids=self.allowed_ids(docs), load_nodes=False)
        return [(int(i), float(s)) for i, s in zip(res.ids, res.similarities)]

    def search_lexical(self, tokens, k, docs=None) -> Scored:
        return self.lexical.search(tokens, k, self.allowed_ids(docs))

    def doc_freq(self, tokens):
        return self.lexical.doc_freq(tokens)

    def count(self) -> int:
        return len(self.lexical)

    def describe(self) -> dict:
        return {"name": "local", "faiss": self.vectors.kind, "chunks": len(self.lexical)}

    def close(self) -> None:
        pass




class LocalWriter:
    """Writes a version's FAISS vectors and BM25 arrays into the staging folder, starting
    from the previous version's (the builder's original code path, unchanged in effect)."""

    def __init__(self, builder, layout, tmp: Path, base_dir: Path | None, store):
        self.builder, self.layout, self.tmp, self.base_dir, self.store = builder, layout, tmp, base_dir, store
        self.vectors = None
        self.removed: list[int] = []
        self.new_ids: list[int] = []
        self.new_tokens: list[list[str]] = []
        self.faiss_kind, self.faiss_params = "", {}
        self.segments: dict | None = None  # the manifest's "segments" (DeltaWriter)

    def open_base(self) -> None:
        from rag.index.vectors import ChunkVectorStore

        if self.base_dir is not None:
            self.vectors = ChunkVectorStore.load(self.layout.vectors(self.base_dir))

    def base_count(self) -> int | None:
        return None if self.vectors is None else len(self.vectors)

    def absorb(self, prev_dir: Path, dead: list[int], added: list[int]) -> None:
        """Compaction: the previous (segmented) version's tombstones and delta applied to its
        base's vectors and to the lexical update (the store did the same: `ChunkStore.absorb`)."""
        from rag.index.vectors import ChunkVectorStore

        delta = ChunkVectorStore.load(self.layout.delta_vectors(prev_dir))
        ids, vecs = delta.all_vectors()
        order = np.argsort(ids)
        ids, vecs = ids[order], vecs[order]
        if ids.tolist() != sorted(added):
            raise IndexCorrupt("its delta vectors and delta chunks differ")
        self.remove(dead)
        tokens = {i: t for batch_ids, batch in self.store.iter_tokens_of(added) for i, t in zip(batch_ids, batch)}
        self.add(ids, vecs if len(ids) else None, [tokens[i] for i in ids.tolist()])

    def remove(self, chunk_ids) -> None:
        self.removed += list(chunk_ids)
        if self.vectors is not None and chunk_ids:
            self.vectors.remove_ids(chunk_ids)

    def add(self, ids, vectors, tokens, doc_ids=None) -> None:
        if not len(ids) and self.vectors is not None:
            return
        self.vectors = self.builder._add_vectors(self.vectors, np.asarray(ids, np.int64), vectors)
        self.new_ids += [int(i) for i in ids]
        self.new_tokens += tokens

    def finish(self) -> dict:
        self.vectors.persist(str(self.layout.vectors(self.tmp)))
        self.faiss_kind, self.faiss_params = self.vectors.kind, self.vectors.describe()
        self.vectors = None  # a million vectors need not stay in memory while the lexical index is built
        self.builder.progress("lexical", 0, 1)
        lex = self.builder._lexical(self.layout.lexical(self.base_dir) if self.base_dir is not None else None,
                                    self.store, self.removed, self.new_ids, self.new_tokens)
        lex.save(self.layout.lexical(self.tmp))
        self.builder.progress("lexical", 1, 1)
        self.n = len(lex)
        return {"name": "local"}

    def publish(self, manifest: dict) -> None:
        pass  # the version folder is the whole state: the manifest swap publishes it

    def abort(self) -> None:
        pass

    def drop(self, manifests) -> None:
        pass


class DeltaWriter:
    """Writes a segmented version: the base files are the previous version's (hard links, see
    `IndexLayout.link_base`), never opened for writing; removals of base chunks are the store's
    tombstones, removals of delta chunks and additions change the small delta vectors, and the
    delta's and the tombstoned rows' lexical arrays are rebuilt from the store (small)."""

    def __init__(self, builder, layout, tmp: Path, prev_dir: Path, store):
        self.builder, self.layout, self.tmp, self.prev_dir, self.store = builder, layout, tmp, prev_dir, store
        self.base = None
        self.delta = None
        self.faiss_kind, self.faiss_params = "", {}
        self.segments: dict | None = None

    def open_base(self) -> None:
        from rag.index.vectors import ChunkVectorStore, make_faiss_index

        self.base = ChunkVectorStore.load(self.layout.vectors(self.tmp), mmap=True)  # read only
        prev_delta = self.layout.delta_vectors(self.prev_dir)
        if prev_delta.exists():
            self.delta = ChunkVectorStore.load(prev_delta)
        elif self.layout.delta_store(self.prev_dir).exists():
            raise IndexCorrupt(f"{prev_delta} is missing")
        else:
            self.delta = ChunkVectorStore(make_faiss_index(int(self.base.faiss_index.d), "flat"))

    def base_count(self) -> int | None:
        c = self.store.segment_counts()
        if len(self.base) != c["base_chunks"]:
            raise IndexCorrupt(f"its base holds {c['base_chunks']} chunks but {len(self.base)} vectors")
        return len(self.base) - c["tombstones"] + len(self.delta)

    def remove(self, chunk_ids) -> None:
        seq = self.store.base_seq
        mine = [int(i) for i in chunk_ids if int(i) > seq]  # the delta's; the base's are tombstones
        if mine:
            self.delta.remove_ids(mine)

    def add(self, ids, vectors, tokens, doc_ids=None) -> None:
        if len(ids):
            self.delta.add_vectors(np.asarray(ids, np.int64), vectors)

    def finish(self) -> dict:
        from rag.index.lexical import LexicalBuilder

        self.layout.delta_vectors(self.tmp).parent.mkdir(parents=True, exist_ok=True)
        self.delta.persist(str(self.layout.delta_vectors(self.tmp)))
        self.faiss_kind = self.base.kind
        self.faiss_params = {**self.base.describe(), "delta": "flat", "delta_vectors": len(self.delta)}
        for which, folder in (("delta", self.layout.delta_lexical(self.tmp)), ("dead", self.layout.dead_lexical(self.tmp))):
            b = LexicalBuilder()
            for ids, toks in self.store.iter_segment_tokens(which):
                b.add(ids, toks)
            b.finish().save(folder)
        c = self.store.segment_counts()
        if c["delta_chunks"] != len(self.delta):
            raise IndexCorrupt(f"the delta holds {c['delta_chunks']} chunks but {len(self.delta)} vectors")
        self.segments = c
        return {"name": "local"}

    def publish(self, manifest: dict) -> None:
        pass

    def abort(self) -> None:
        pass

    def drop(self, manifests) -> None:
        pass


def open_backend(layout, manifest: dict, vdir: Path, store, cfg: Config | None, params: dict) -> SearchBackend:
    name = manifest_backend(manifest)
    if name == "milvus":
        from rag.index.milvus import MilvusBackend

        return MilvusBackend.open(layout, manifest, store, cfg)
    return LocalBackend.open(layout, vdir, store, params)
