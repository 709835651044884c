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
from rag.index.lexical import (
    INDEX_FORMAT,
    TOKENIZER_VERSION,
    LexicalIndex,
    use_query_dictionary,
)
from rag.index.store import (
    LEXICAL_DIR,
    MANIFEST,
    STORE_FILE,
    VECTORS_FILE,
    ChunkStore,
    DocRecord,
    IndexCorrupt,
    IndexError_,
    IndexMismatch,
    IndexMissing,
    read_manifest,
)
from rag.index.vectors import ChunkVectorStore
from rag.ingest.chunk import CHUNKER_VERSION
from rag.models.embed import embedding_id
from rag.records import Chunk, Document, Section

REBUILD = "rebuild it with `make index` (python -m rag build)"


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


@dataclass
class Index:
    dir: Path
    manifest: dict
    store: ChunkStore
    vectors: ChunkVectorStore
    lexical: LexicalIndex
    warning: str = ""
    _docs: list[DocRecord] | None = field(default=None, repr=False)
    _titles: dict[str, str] | None = field(default=None, repr=False)
    _metas: dict | None = field(default=None, repr=False)

    @classmethod
    def open(cls, index_dir: str | os.PathLike, cfg: Config | None = None, check: bool = True) -> "Index":
        index_dir = Path(index_dir)
        manifest = read_manifest(index_dir)
        if manifest is None:
            raise IndexMissing(f"no index in {index_dir}; build it with `make index` (python -m rag build)")
        if check and cfg is not None:
            check_manifest(manifest, cfg)
        params = {}
        if cfg is not None:
            params = dict(hnsw_ef_search=cfg.index.hnsw_ef_search, ivf_nprobe=cfg.index.ivf_nprobe)
        try:
            return cls._load(index_dir, manifest, params)
        except IndexError_ as first:
            prev = manifest.get("previous")
            prev_manifest_path = index_dir / prev / MANIFEST if prev else None
            if prev_manifest_path is None or not prev_manifest_path.exists():
                raise
            prev_manifest = read_manifest(index_dir / prev)
            if check and cfg is not None:
                check_manifest(prev_manifest, cfg)
            idx = cls._load(index_dir, prev_manifest, params)
            idx.warning = f"current index version is damaged ({first}); serving the previous version {prev}"
            return idx

    @classmethod
    def _load(cls, index_dir: Path, manifest: dict, params: dict) -> "Index":
        vdir = index_dir / manifest["version"]
        if not vdir.is_dir():
            raise IndexCorrupt(f"index version folder {vdir} is missing; {REBUILD}")
        store = ChunkStore(vdir / STORE_FILE)
        try:
            vectors = ChunkVectorStore.load(vdir / VECTORS_FILE, mmap=True, **params)  # a version never changes
        except Exception as e:
            raise IndexCorrupt(f"{vdir / VECTORS_FILE} is unreadable ({str(e).splitlines()[0][:200]}); {REBUILD}") from None
        try:  # memory-mapped: the files of a version never change
            lex = LexicalIndex.load(vdir / LEXICAL_DIR, mmap=True)
        except Exception as e:
            raise IndexCorrupt(f"the lexical index in {vdir} is unreadable ({type(e).__name__}); {REBUILD}") from None
        n = store.count_chunks()
        if len(vectors) != n or len(lex) != n:
            raise IndexCorrupt(f"index {vdir.name} is inconsistent ({n} chunks, {len(vectors)} vectors, "
                               f"{len(lex)} lexical rows); {REBUILD}")
        idx = cls(index_dir, manifest, store, vectors, lex)
        vectors._loader = idx.nodes
        use_query_dictionary(index_dir / "cache")  # questions tokenized without jieba's 0.6 s load
        return idx

    @property
    def version(self) -> str:
        return self.manifest["version"]

    # -- reading
    def documents(self) -> list[DocRecord]:
        if self._docs is None:
            from rag.retrieve.query import DocList

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

        return VectorStoreIndex.from_vector_store(self.vectors, embed_model=embed_model)

    def stale_reasons(self, docs_dir: Path) -> list[str]:
        """Why the index no longer matches the corpus folder (cheap: names and sizes/mtimes are
        not hashed; new or missing files are reported)."""
        from rag.ingest.document import doc_id_for
        from rag.ingest.load import iter_corpus

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
        return reasons
