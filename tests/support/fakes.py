"""Deterministic fakes shared by the tests (no model, no network).

- `BigramEmbedding`: hashed character-bigram bags, registered as the embedding backend
  "test-bigram" (`register_fake_embedding`), so that configurations, manifests and the CLI work
  as with a real model;
- `make_config`: a configuration with the fake embedding and paths in tmp, no rag.toml/env;
- `ScriptedGenerator` / `TwoStepGenerator`: fake LLMs that record their prompts;
- `Slowed`: wraps a real answerer, sleeping between streamed pieces (for concurrency tests).
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path

from llama_index.core.embeddings import BaseEmbedding

from rag.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "data" / "docs"
FIXTURES = ROOT / "tests" / "fixtures"


class BigramEmbedding(BaseEmbedding):
    """Hashed character-bigram bag, L2-normalised. Deterministic; similar texts get similar
    vectors, which is all retrieval plumbing tests need."""

    dim: int = 256

    def _vec(self, text: str) -> list[float]:
        s = "".join(text.split())
        v = [0.0] * self.dim
        for a, b in zip(s, s[1:]):
            v[zlib.crc32((a + b).encode("utf-8")) % self.dim] += 1.0
        if len(s) == 1:
            v[zlib.crc32(s.encode("utf-8")) % self.dim] += 1.0
        norm = sum(x * x for x in v) ** 0.5 or 1.0
        return [x / norm for x in v]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vec(text)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vec(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._vec(text)


def register_fake_embedding() -> None:
    from rag.models import embed

    embed.BACKENDS["test-bigram"] = lambda cfg: BigramEmbedding(model_name=cfg.model)


def make_config(index_dir: Path | None = None, docs: Path | None = None, **overrides) -> Config:
    """A configuration for tests: the fake embedding, paths in tmp, no rag.toml/env influence."""
    # the dense refusal threshold is calibrated for the real model's similarity scale: off here
    values = {"embedding.backend": "test-bigram", "embedding.model": "bigram-256", "answer.refusal_dense": 0.0}
    if index_dir is not None:
        values["index.dir"] = str(index_dir)
    if docs is not None:
        values["corpus.docs"] = str(docs)
    values.update(overrides)
    return load_config(path=None, overrides=values, env={})


class ScriptedGenerator:
    """A fake LLM: records the messages and replies with a fixed text, streamed in pieces."""

    name = "scripted"

    def __init__(self, reply: str):
        self.reply = reply
        self.messages = None

    def stream_chat(self, messages):
        self.messages = list(messages)
        for i in range(0, len(self.reply), 5):
            yield self.reply[i:i + 5]

    def complete(self, messages):
        self.messages = list(messages)
        return self.reply


class TwoStepGenerator(ScriptedGenerator):
    """complete() rewrites the follow-up; stream_chat() answers."""

    def __init__(self, rewrite: str, reply: str):
        super().__init__(reply)
        self.rewrite = rewrite
        self.condense_prompt = None

    def complete(self, messages):
        self.condense_prompt = messages[-1][1]
        return self.rewrite


class Slowed:
    """Wraps a real answerer: sleeps `delay` seconds before each streamed piece (so that
    concurrent answers overlap measurably) and records the history each question came with."""

    def __init__(self, inner, delay: float = 0.0):
        self.inner = inner
        self.delay = delay
        self.seen_history: list = []

    def stream(self, ev, history):
        self.seen_history.append(list(history))
        for event in self.inner.stream(ev, history):
            if isinstance(event, str) and self.delay:
                time.sleep(self.delay)
            yield event
