"""Optional cross-encoder reranking (e.g. BAAI/bge-reranker-base) through sentence-transformers.

Off by default (no reranker ships offline). Set [retrieval] rerank_model to a hub name or a
local path; a name that cannot be loaded fails at once with the setting to change.
"""

from __future__ import annotations

from typing import Any, Sequence

from rag.errors import DeviceError, ModelUnavailable, RerankError
from rag.models.device import resolve_device
from rag.models.hub import resolve_model


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a cross-encoder; higher is more relevant."""

    def __init__(self, model: Any, batch_size: int = 16):
        self.model = model  # anything with .predict(list[tuple[str, str]]) -> scores
        self.batch_size = batch_size

    def rerank(self, question: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        scores = self.model.predict([(question, p) for p in passages], batch_size=self.batch_size)
        return [float(s) for s in scores]


def make_reranker(name: str, device: str = "auto") -> CrossEncoderReranker:
    try:
        where, local_only = resolve_model(name, "[retrieval] rerank_model or RAG_RETRIEVAL_RERANK_MODEL")
        device = resolve_device(device, "the reranker's device")
    except (ModelUnavailable, DeviceError) as e:
        raise RerankError(str(e)) from None
    try:
        from sentence_transformers import CrossEncoder
    except ImportError as e:  # pragma: no cover - install problem
        raise RerankError(f"sentence-transformers is not installed ({e})") from None
    try:
        kwargs: dict[str, Any] = {"device": device}
        if local_only:
            kwargs["local_files_only"] = True
        return CrossEncoderReranker(CrossEncoder(where, **kwargs))
    except Exception as e:
        raise RerankError(f"cannot load reranker {name!r}: {str(e).splitlines()[0]}") from None
