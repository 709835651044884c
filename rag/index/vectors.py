"""Dense vectors: a llama-index `FaissVectorStore` keyed by our integer chunk ids.

The stock `FaissVectorStore` numbers vectors by insertion order, cannot delete and cannot
filter. Ours wraps FAISS indexes that carry explicit ids (`IndexIDMap2` around a flat or HNSW
index, or an IVF index), so that
- removing a document removes its vectors,
- a search can be limited to allowed ids (region / document filters) by FAISS id selectors,
- the nodes of a query result come from the SQLite chunk store (`stores_text`), so a
  `VectorStoreIndex.from_vector_store(store, embed_model=...)` retrieves without a docstore.

Index types: "flat" (exact inner product), "hnsw" (graph, fast, approximate), "ivf" (inverted
lists, approximate, supports removal). "auto" picks flat below `ann_threshold` vectors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import (
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from llama_index.vector_stores.faiss import FaissVectorStore

KINDS = ("flat", "hnsw", "ivf")
EXACT_FILTER_LIMIT = 50_000  # filtered searches over at most this many ids are scored exactly


def choose_kind(kind: str, n_vectors: int, ann_threshold: int) -> str:
    if kind == "auto":
        return "flat" if n_vectors < ann_threshold else "ivf"
    if kind not in KINDS:
        raise ValueError(f"unknown FAISS index type {kind!r} (known: auto, {', '.join(KINDS)})")
    return kind


def ivf_nlist(n_vectors: int) -> int:
    """Inverted lists for an IVF index of this size: 4·√n, between 16 and 4096."""
    return int(max(16, min(4096, 4 * np.sqrt(max(n_vectors, 1)))))


def ivf_training_size(n_vectors: int) -> int:
    """Training sample for IVF k-means: 40 vectors per list (faiss warns below 39), at least
    100k, at most all of them."""
    return min(n_vectors, max(100_000, 40 * ivf_nlist(n_vectors)))


def make_faiss_index(dim: int, kind: str, train: np.ndarray | None = None, hnsw_m: int = 32,
                     n_expected: int = 0):
    import faiss

    if kind == "flat":
        return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    if kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = 80
        return faiss.IndexIDMap2(inner)
    if kind == "ivf":
        n = max(n_expected, len(train) if train is not None else 0)
        nlist = ivf_nlist(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        if train is None or len(train) < nlist:
            raise ValueError(f"an IVF index with {nlist} lists needs at least {nlist} training vectors")
        index.train(np.ascontiguousarray(train, dtype=np.float32))
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
        return index
    raise ValueError(f"unknown FAISS index type {kind!r}")


def index_kind(index) -> str:
    import faiss

    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexIDMap) else index
    if isinstance(inner, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(inner, faiss.IndexIVF):
        return "ivf"
    return "flat"


class ChunkVectorStore(FaissVectorStore):
    """FAISS with explicit chunk ids; nodes are loaded from the chunk store."""

    stores_text: bool = True
    _loader: Any = PrivateAttr(default=None)
    _params: dict = PrivateAttr(default_factory=dict)
    _mapped: bool = PrivateAttr(default=False)  # vectors memory-mapped from the file: read only

    def __init__(self, faiss_index: Any, node_loader: Callable[[list[int]], list[BaseNode]] | None = None,
                 hnsw_ef_search: int = 512, ivf_nprobe: int = 128):
        import faiss

        super().__init__(faiss_index=faiss_index)
        self._loader = node_loader
        self._params = {"ef": hnsw_ef_search, "nprobe": ivf_nprobe}
        kind = index_kind(faiss_index)
        if kind == "ivf":
            faiss.extract_index_ivf(faiss_index).nprobe = ivf_nprobe
        elif kind == "hnsw":
            faiss.downcast_index(faiss_index.index).hnsw.efSearch = hnsw_ef_search

    @classmethod
    def class_name(cls) -> str:
        return "ChunkVectorStore"

    def describe(self) -> dict:
        """Type and parameters, for the manifest."""
        import faiss

        kind = self.kind
        out: dict = {"kind": kind, "vectors": len(self), "dim": int(self._faiss_index.d)}
        if kind == "ivf":
            ivf = faiss.extract_index_ivf(self._faiss_index)
            out.update(nlist=int(ivf.nlist), nprobe=int(ivf.nprobe))
        elif kind == "hnsw":
            hnsw = faiss.downcast_index(self._faiss_index.index).hnsw
            out.update(M=int(hnsw.nb_neighbors(1)), efSearch=int(hnsw.efSearch), efConstruction=int(hnsw.efConstruction))
        return out

    def tune(self, ivf_nprobe: int | None = None, hnsw_ef_search: int | None = None) -> None:
        """Change the search breadth of an approximate index (recall against speed)."""
        import faiss

        kind = self.kind
        if ivf_nprobe is not None:
            self._params["nprobe"] = ivf_nprobe
            if kind == "ivf":
                faiss.extract_index_ivf(self._faiss_index).nprobe = ivf_nprobe
        if hnsw_ef_search is not None:
            self._params["ef"] = hnsw_ef_search
            if kind == "hnsw":
                faiss.downcast_index(self._faiss_index.index).hnsw.efSearch = hnsw_ef_search

    @property
    def faiss_index(self):
        return self._faiss_index

    @property
    def kind(self) -> str:
        return index_kind(self._faiss_index)

    def __len__(self) -> int:
        return int(self._faiss_index.ntotal)

    # -- writing
    def _writable(self) -> None:
        if self._mapped:  # faiss would abort the process resizing a mapped array
            raise RuntimeError("this vector index is memory-mapped read-only; load it with mmap=False to change it")

    def add_vectors(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids) == 0:
            return
        self._writable()
        self._faiss_index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                       np.asarray(ids, dtype=np.int64))

    def add(self, nodes: list[BaseNode], **add_kwargs: Any) -> list[str]:
        """llama-index entry point: nodes carry their integer id in metadata["vid"]."""
        if not nodes:
            return []
        ids = np.array([int(n.metadata["vid"]) for n in nodes], dtype=np.int64)
        vecs = np.array([n.get_embedding() for n in nodes], dtype=np.float32)
        self.add_vectors(ids, vecs)
        return [n.node_id for n in nodes]

    def remove_ids(self, ids) -> int:
        import faiss

        ids = np.asarray(list(ids), dtype=np.int64)
        if len(ids) == 0:
            return 0
        self._writable()
        if self.kind == "hnsw":  # HNSW graphs cannot drop nodes: rebuild from the kept vectors
            keep_ids, keep_vecs = self.all_vectors()
            mask = ~np.isin(keep_ids, ids)
            inner = faiss.downcast_index(self._faiss_index.index)
            fresh = make_faiss_index(keep_vecs.shape[1] if keep_vecs.size else self._faiss_index.d, "hnsw",
                                     hnsw_m=inner.hnsw.nb_neighbors(1))
            fresh.add_with_ids(np.ascontiguousarray(keep_vecs[mask]), keep_ids[mask])
            removed = int((~mask).sum())
            self._faiss_index = fresh
            faiss.downcast_index(fresh.index).hnsw.efSearch = self._params["ef"]
            return removed
        # the numpy form lets faiss pick the selector the index needs (an IVF index with a
        # hashtable direct map accepts only IDSelectorArray; IDSelectorBatch raises there)
        return int(self._faiss_index.remove_ids(np.ascontiguousarray(ids)))

    def delete_nodes(self, node_ids: list[str] | None = None, filters=None, **kw) -> None:
        if filters is not None:
            raise NotImplementedError("metadata filters: pass allowed ids to query() instead")
        self.remove_ids(int(n.split("#vid", 1)[-1]) if "#vid" in n else int(n) for n in (node_ids or []))

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of everything stored; used to rebuild or convert an index."""
        import faiss

        index = self._faiss_index
        n = index.ntotal
        if isinstance(index, faiss.IndexIDMap):
            ids = faiss.vector_to_array(index.id_map).astype(np.int64)
            vecs = index.index.reconstruct_n(0, n) if n else np.zeros((0, index.d), np.float32)
            return ids, vecs
        ids, vecs = [], []
        ivf = faiss.extract_index_ivf(index)
        invlists = ivf.invlists
        for lst in range(ivf.nlist):
            size = invlists.list_size(lst)
            if not size:
                continue
            ids.append(faiss.rev_swig_ptr(invlists.get_ids(lst), size).copy())
            codes = faiss.rev_swig_ptr(invlists.get_codes(lst), size * ivf.code_size).copy()
            vecs.append(codes.view(np.float32).reshape(size, ivf.d))
        if not ids:
            return np.zeros(0, np.int64), np.zeros((0, index.d), np.float32)
        return np.concatenate(ids).astype(np.int64), np.vstack(vecs)

    # -- searching
    def _search_params(self, selector):
        import faiss

        kind = self.kind
        if kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=self._params["ef"])
        if kind == "ivf":
            return faiss.SearchParametersIVF(sel=selector, nprobe=self._params["nprobe"])
        return faiss.SearchParameters(sel=selector)

    def search(self, query_vec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(ids, scores) best first. `allowed` limits the search to those chunk ids."""
        import faiss

        index = self._faiss_index
        q = np.ascontiguousarray(np.asarray(query_vec, dtype=np.float32).reshape(1, -1))
        if index.ntotal == 0 or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            if len(allowed) <= EXACT_FILTER_LIMIT:
                return self._exact_subset(q[0], k, allowed)
            params = self._search_params(faiss.IDSelectorBatch(allowed))
            scores, ids = index.search(q, min(k, index.ntotal), params=params)
        else:
            scores, ids = index.search(q, min(k, index.ntotal))
        keep = ids[0] >= 0
        return ids[0][keep].astype(np.int64), scores[0][keep]

    def _exact_subset(self, q: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact scores over a small set of ids (what a filter leaves), whatever the index type."""
        vecs, found = [], []
        index = self._faiss_index
        for i in allowed:
            try:
                vecs.append(index.reconstruct(int(i)))
                found.append(int(i))
            except RuntimeError:  # id not in the index
                continue
        if not found:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        scores = np.vstack(vecs) @ q
        order = np.argsort(-scores, kind="stable")[:k]
        return np.asarray(found, dtype=np.int64)[order], scores[order].astype(np.float32)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """llama-index entry point (also the project's own dense retrieval). `allowed_ids=`
        (an array of chunk ids) or `query.node_ids` (integer ids as strings) limit the search;
        filters by metadata are not supported. `ids` are the integer chunk ids as strings;
        nodes are loaded from the chunk store unless `load_nodes=False`."""
        if query.filters is not None:
            raise ValueError("metadata filters are not supported: pass allowed ids instead")
        allowed = kwargs.get("allowed_ids")
        if allowed is None and query.node_ids:
            allowed = np.array([int(x) for x in query.node_ids], dtype=np.int64)
        ids, scores = self.search(np.asarray(query.query_embedding, dtype=np.float32),
                                  query.similarity_top_k, allowed)
        load = kwargs.get("load_nodes", True) and self._loader is not None
        return VectorStoreQueryResult(
            nodes=self._loader([int(i) for i in ids]) if load else None,
            similarities=[float(s) for s in scores],
            ids=[str(int(i)) for i in ids],
        )

    # -- persistence
    def persist(self, persist_path: str, fs=None) -> None:
        import faiss

        Path(persist_path).parent.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self._faiss_index, str(persist_path))

    @classmethod
    def load(cls, path: str | Path, node_loader=None, mmap: bool = False, **params) -> "ChunkVectorStore":
        """Read a persisted index. With `mmap` the vectors are mapped from the file, not read
        (a 1M-vector IVF index opens in ~0.05 s instead of ~1 s, and only the lists searched
        are paged in); such a store is read-only."""
        import faiss

        flag = getattr(faiss, "IO_FLAG_MMAP_IFC", None)
        if mmap and flag is not None:
            try:
                store = cls(faiss.read_index(str(path), flag), node_loader=node_loader, **params)
                store._mapped = True
                return store
            except RuntimeError:
                pass  # a layout faiss cannot map: read it
        return cls(faiss.read_index(str(path)), node_loader=node_loader, **params)

    def has_id(self, chunk_id: int) -> bool:
        """Whether this chunk id has a vector here."""
        try:
            self._faiss_index.reconstruct(int(chunk_id))
            return True
        except RuntimeError:
            return False


OVERSAMPLE_DEAD = 1024  # up to this many tombstones, a search asks for k + that many and drops them


class SegmentedVectorStore(ChunkVectorStore):
    """A segmented version's vectors: the shared base index (memory-mapped, never changed)
    less its tombstoned ids, plus the small exact delta index of the chunks added since. A
    search asks both and merges by score: over a flat base the result is the one a single
    index of the live chunks gives; over an IVF base the base part is as approximate as it was."""

    _delta: Any = PrivateAttr(default=None)
    _dead: Any = PrivateAttr(default=None)
    _dead_sel: Any = PrivateAttr(default=None)
    _delta_ids: Any = PrivateAttr(default=None)

    def __init__(self, base_index: Any, delta: ChunkVectorStore, dead_ids, node_loader=None, **params):
        super().__init__(base_index, node_loader=node_loader, **params)
        self._delta = delta
        self._delta_ids = np.sort(delta.all_vectors()[0]) if len(delta) else np.zeros(0, np.int64)
        self._dead = np.unique(np.asarray(dead_ids, dtype=np.int64))
        self._mapped = True  # read-only: a new version is written by the builder, not here

    @property
    def delta(self) -> ChunkVectorStore:
        return self._delta

    @property
    def dead_ids(self) -> np.ndarray:
        return self._dead

    def __len__(self) -> int:
        return int(self._faiss_index.ntotal) - len(self._dead) + len(self._delta)

    def describe(self) -> dict:
        out = super().describe()
        out.update(vectors=len(self), base_vectors=int(self._faiss_index.ntotal), delta_vectors=len(self._delta),
                   tombstones=len(self._dead))
        return out

    def tune(self, ivf_nprobe: int | None = None, hnsw_ef_search: int | None = None) -> None:
        super().tune(ivf_nprobe, hnsw_ef_search)

    def has_id(self, chunk_id: int) -> bool:
        i = int(chunk_id)
        if self._delta.has_id(i):
            return True
        dead = self._dead
        p = np.searchsorted(dead, i)
        if p < len(dead) and dead[p] == i:
            return False
        return super().has_id(i)

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        ids, vecs = super().all_vectors()
        keep = ~np.isin(ids, self._dead)
        d_ids, d_vecs = self._delta.all_vectors()
        return np.concatenate([ids[keep], d_ids]), np.vstack([vecs[keep], d_vecs.reshape(-1, vecs.shape[1])])

    def _base_search(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        index = self._faiss_index
        nd = len(self._dead)
        if index.ntotal == 0 or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if nd == 0:
            ids, scores = ChunkVectorStore.search(self, q, k)
        elif nd <= OVERSAMPLE_DEAD:
            ids, scores = ChunkVectorStore.search(self, q, k + nd)
        else:  # many tombstones: FAISS skips them while it scans
            if self._dead_sel is None:
                batch = faiss.IDSelectorBatch(self._dead)
                self._dead_sel = (faiss.IDSelectorNot(batch), batch)  # the inner one must stay alive
            scores, ids = index.search(q.reshape(1, -1), min(k, index.ntotal), params=self._search_params(self._dead_sel[0]))
            keep = ids[0] >= 0
            ids, scores = ids[0][keep].astype(np.int64), scores[0][keep]
        if nd:
            live = ~np.isin(ids, self._dead)
            ids, scores = ids[live], scores[live]
        return ids[:k], scores[:k]

    def search(self, query_vec: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        q = np.ascontiguousarray(np.asarray(query_vec, dtype=np.float32).reshape(-1))
        if k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if allowed is None:
            b_ids, b_sc = self._base_search(q, k)
            d_ids, d_sc = self._delta.search(q, k)
        else:
            allowed = np.asarray(allowed, dtype=np.int64)
            if len(allowed) == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            in_delta = np.isin(allowed, self._delta_ids)
            base_allowed = allowed[~in_delta]
            base_allowed = base_allowed[~np.isin(base_allowed, self._dead)]
            b_ids, b_sc = (ChunkVectorStore.search(self, q, k, base_allowed) if len(base_allowed)
                           else (np.zeros(0, np.int64), np.zeros(0, np.float32)))
            d_ids, d_sc = (self._delta.search(q, k, allowed[in_delta]) if in_delta.any()
                           else (np.zeros(0, np.int64), np.zeros(0, np.float32)))
        if not len(d_ids):
            return b_ids, b_sc
        ids = np.concatenate([b_ids, d_ids])
        scores = np.concatenate([b_sc, d_sc]).astype(np.float32)
        order = np.lexsort((ids, -scores))[:k]
        return ids[order], scores[order]
