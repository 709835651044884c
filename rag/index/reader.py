"""Opening a built index for reading: manifest checks, chunk store, vectors, lexical index.

`Index.open` refuses an index built with another embedding model or chunker (the fix is named
in the message), and when the current version's files are damaged it falls back to the
previous version if that one is intact, saying so in `Index.warning`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Config
from rag.errors import IndexCorrupt, IndexMissing, IndexProblem, IndexUnavailable
from rag.index.backend import LocalBackend, SearchBackend, backend_name, open_backend
from rag.index.catalog import DocList
from rag.index.layout import REBUILD, IndexLayout, check_manifest
from rag.index.lexical import LexicalIndex
from rag.index.store import ChunkStore, DocRecord
from rag.index.vectors import ChunkVectorStore
from rag.records import Chunk, Document, Section
from rag.text.tokenize import Tokenizer


@dataclass
class Index:
    dir: Path
    manifest: dict
    store: ChunkStore
    backend: SearchBackend  # what retrieval searches (rag.index.backend): local FAISS + BM25, or Milvus
    tokenizer: Tokenizer  # the one that tokenizes this index's questions (its own dictionary copy)
    warning: str = ""
    _docs: list[DocRecord] | None = field(default=None, repr=False)
    _titles: dict[str, str] | None = field(default=None, repr=False)
    _metas: dict | None = field(default=None, repr=False)

    @classmethod
    def open(cls, index_dir: str | os.PathLike, cfg: Config | None = None, check: bool = True) -> "Index":
        index_dir = Path(index_dir)
        layout = IndexLayout(index_dir)
        manifest = layout.read_manifest()
        if manifest is None:
            raise IndexMissing(f"no index in {index_dir}; build it with `make index` (python -m rag build)")
        if check and cfg is not None:
            check_manifest(manifest, cfg)
        params = {}
        if cfg is not None and check:
            backend_name(cfg.index)  # an unknown backend is a configuration error, not a damaged index
        if cfg is not None:
            params = dict(hnsw_ef_search=cfg.index.hnsw_ef_search, ivf_nprobe=cfg.index.ivf_nprobe)
        try:
            return cls._load(layout, manifest, params, cfg)
        except IndexUnavailable:
            raise  # the server, not this version: the previous one would not help
        except IndexProblem as first:
            prev = manifest.get("previous")
            prev_manifest = layout.read_manifest(prev) if prev else None
            if prev_manifest is None:
                raise
            if check and cfg is not None:
                check_manifest(prev_manifest, cfg)
            idx = cls._load(layout, prev_manifest, params, cfg)
            idx.warning = f"current index version is damaged ({first}); serving the previous version {prev}"
            return idx

    @classmethod
    def _load(cls, layout: IndexLayout, manifest: dict, params: dict, cfg: Config | None = None) -> "Index":
        vdir = layout.version_dir(manifest["version"])
        if not vdir.is_dir():
            raise IndexCorrupt(f"index version folder {vdir} is missing; {REBUILD}")
        # a segmented version (manifest "segments"): the shared base store and the version's delta
        store = ChunkStore(layout.store(vdir), delta=layout.delta_store(vdir) if manifest.get("segments") else None)
        backend = open_backend(layout, manifest, vdir, store, cfg, params)
        n = store.count_chunks()
        if isinstance(backend, LocalBackend):
            if len(backend.vectors) != n or len(backend.lexical) != n:
                raise IndexCorrupt(f"index {vdir.name} is inconsistent ({n} chunks, {len(backend.vectors)} vectors, "
                                   f"{len(backend.lexical)} lexical rows); {REBUILD}")
        elif manifest.get("counts", {}).get("chunks") != n:
            raise IndexCorrupt(f"index {vdir.name} is inconsistent ({n} chunks in the store, "
                               f"{manifest.get('counts', {}).get('chunks')} in the manifest); {REBUILD}")
        # questions are tokenized with the folder's copy of jieba's dictionary (no 0.6 s load)
        idx = cls(layout.root, manifest, store, backend, Tokenizer(layout.dictionary))
        if isinstance(backend, LocalBackend):
            backend.vectors._loader = idx.nodes
        return idx

    # the local backend's parts (tests, the benchmark and the naive reference read them)
    @property
    def vectors(self) -> ChunkVectorStore | None:
        return getattr(self.backend, "vectors", None)

    @property
    def lexical(self) -> LexicalIndex | None:
        return getattr(self.backend, "lexical", None)

    @property
    def version(self) -> str:
        return self.manifest["version"]

    # -- reading
    def documents(self) -> list[DocRecord]:
        if self._docs is None:
            self._docs = DocList(self.store.documents())
        return self._docs

    def document(self, doc_id: str) -> Document | None:
        return self.store.document(doc_id)

    def sections(self, doc_id: str) -> list[Section]:
        return self.store.sections(doc_id)

    def chunks(self, ids) -> list[Chunk]:
        return self.store.get_chunks(ids)

    def titles(self) -> dict[str, str]:
        """doc_id → title (built once: retrieval asks for it on every question)."""
        if self._titles is None:
            self._titles = {d.doc_id: d.meta.title for d in self.documents()}
        return self._titles

    def metas(self) -> dict:
        """doc_id → DocMeta (built once)."""
        if self._metas is None:
            self._metas = {d.doc_id: d.meta for d in self.documents()}
        return self._metas

    def nodes(self, ids: list[int]):
        """llama-index nodes for chunk ids (what the vector store returns to retrievers)."""
        from llama_index.core.schema import TextNode

        titles = self.titles()
        return [
            TextNode(id_=c.chunk_id, text=c.text, start_char_idx=c.start, end_char_idx=c.end,
                     metadata={"vid": c.id, "doc_id": c.doc_id, "title": titles.get(c.doc_id, ""),
                               "section": c.section})
            for c in self.chunks(ids)
        ]

    def vector_store_index(self, embed_model):
        """A llama-index `VectorStoreIndex` over this index's vectors (retrievers, query engines)."""
        from llama_index.core import VectorStoreIndex

        if self.vectors is None:
            raise NotImplementedError(f"a llama-index vector store over the {self.backend.name!r} backend")
        return VectorStoreIndex.from_vector_store(self.vectors, embed_model=embed_model)

    def stale_reasons(self, docs_dir: Path) -> list[str]:
        """Why the index no longer matches the corpus folder (cheap: names and sizes/mtimes are
        not hashed; new or missing files are reported)."""
        from rag.ingest.corpus import doc_id_for, iter_corpus
        from rag.ingest.version import ingest_fingerprint

        docs_dir = Path(docs_dir)
        if not docs_dir.is_dir():
            return [f"corpus folder {docs_dir} is missing"]
        on_disk = {doc_id_for(p, docs_dir) for p in iter_corpus(docs_dir)}
        indexed = set(self.store.doc_ids())
        reasons = []
        if on_disk - indexed:
            reasons.append(f"{len(on_disk - indexed)} new file(s) not indexed")
        if indexed - on_disk:
            reasons.append(f"{len(indexed - on_disk)} indexed document(s) no longer in {docs_dir}")
        if self.manifest.get("ingest", {}).get("fingerprint") != ingest_fingerprint():
            reasons.append("documents processed by an older version of the ingest (cleaning, metadata, chunking)")
        return reasons
