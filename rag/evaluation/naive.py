"""The naive reference pipeline: what plain llama-index gives out of the box.

Fixed-size `SentenceSplitter` chunks over each document's cleaned text → `VectorStoreIndex` over an
exact inner-product FAISS index → top-k retriever. No outline, no lexical search, no fusion, no
answerer (so no `ask`): it exists to show what our own pipeline adds.

The embedding model is always passed explicitly (an unset one falls back to OpenAI). Query and
passage embeddings go through llama-index's own API (`_get_query_embedding` for the question,
`_get_text_embedding` for chunks), so an asymmetric model gets its query/passage forms.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from rag.records import Chunk, Document, Hit

NAIVE_CHUNK_SIZE = 512  # tokens (llama-index's tokenizer)
NAIVE_CHUNK_OVERLAP = 50  # tokens, about 10% of the chunk size


def _locate(text: str, piece: str, start_from: int) -> tuple[int, int] | None:
    """Offsets of `piece` in `text`, searching from `start_from` first, then from the beginning;
    whitespace may differ (the splitter can join splits with a separator)."""
    for origin in (start_from, 0):
        i = text.find(piece, origin)
        if i >= 0:
            return i, i + len(piece)
    tokens = piece.split()
    if not tokens:
        return None
    pattern = re.compile(r"\s*".join(re.escape(t) for t in tokens))
    for origin in (start_from, 0):
        m = pattern.search(text, origin)
        if m:
            return m.start(), m.end()
    return None


class NaivePipeline:
    name = "naive"

    def __init__(self, documents: Sequence[Document], embed_model: Any,
                 chunk_size: int = NAIVE_CHUNK_SIZE, chunk_overlap: int = NAIVE_CHUNK_OVERLAP):
        if embed_model is None:
            raise ValueError("NaivePipeline needs an embed_model (llama-index BaseEmbedding)")
        if not documents:
            raise ValueError("NaivePipeline needs at least one document")
        import faiss
        from llama_index.core import Document as LIDocument
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.vector_stores.faiss import FaissVectorStore

        self.documents = {d.doc_id: d for d in documents}
        self.chunk_size, self.chunk_overlap = chunk_size, chunk_overlap
        splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
        self.chunks: dict[str, Chunk] = {}  # llama-index node id → our Chunk
        nodes = []
        for doc in documents:
            li_doc = LIDocument(text=doc.text, id_=doc.doc_id)
            cursor = 0
            for n, node in enumerate(splitter.get_nodes_from_documents([li_doc])):
                content = node.get_content()
                start, end = node.start_char_idx, node.end_char_idx
                if start is None or end is None or doc.text[start:end] != content:
                    span = _locate(doc.text, content, cursor)
                    if span is None:
                        raise ValueError(f"naive: cannot locate chunk {n} of {doc.doc_id} in its text")
                    start, end = span
                    node.start_char_idx, node.end_char_idx = start, end
                cursor = start + 1
                self.chunks[node.node_id] = Chunk(
                    chunk_id=f"{doc.doc_id}#{n:04d}", doc_id=doc.doc_id, section_path=(),
                    text=doc.text[start:end], start=start, end=end)
                nodes.append(node)
        if not nodes:
            raise ValueError("naive: the documents gave no chunks (all empty?)")
        self.embed_model = embed_model
        dim = len(embed_model.get_text_embedding(nodes[0].get_content()))
        store = FaissVectorStore(faiss_index=faiss.IndexFlatIP(dim))
        storage = StorageContext.from_defaults(vector_store=store)
        self.index = VectorStoreIndex(nodes, storage_context=storage, embed_model=embed_model,
                                      show_progress=False)

    def search(self, question: str, k: int = 10) -> list[Hit]:
        retriever = self.index.as_retriever(similarity_top_k=k)
        hits = []
        for rank, res in enumerate(retriever.retrieve(question), 1):
            chunk = self.chunks[res.node.node_id]
            doc = self.documents[chunk.doc_id]
            score = float(res.score or 0.0)
            hits.append(Hit(chunk=chunk, score=score, rank=rank, title=doc.meta.title,
                            meta=doc.meta, sources={"naive": score}))
        return hits
