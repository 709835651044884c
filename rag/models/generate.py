"""LLM backends behind one small interface: a `Generator` takes (role, content) messages and
yields text deltas (`stream_chat`) or returns the whole reply (`complete`).

* "transformers": a local model (hub name or folder) run by llama-index `HuggingFaceLLM`,
  prompted through the tokenizer's chat template.
* "openai": any OpenAI-compatible server (vLLM, Ollama, llama.cpp, ...) through llama-index
  `OpenAILike`.

Heavy libraries (torch, transformers, llama_index.llms.*, openai) are imported only when a
backend is built. Models are passed in explicitly; llama-index `Settings` is unused. What the
model is asked (prompts, sources) is the answer stage's business (`rag.answer.generative`).
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterator, Protocol, Sequence

from rag.config import LLMConfig
from rag.errors import DeviceError, LLMError, ModelUnavailable
from rag.models.device import resolve_device
from rag.models.hub import resolve_model

BACKENDS = ("transformers", "openai")
ROLES = ("system", "user", "assistant")

Messages = Sequence[tuple[str, str]]


class Generator(Protocol):
    name: str

    def stream_chat(self, messages: Messages) -> Iterator[str]: ...

    def complete(self, messages: Messages) -> str: ...




def check_messages(messages: Messages) -> list[tuple[str, str]]:
    """(role, content) pairs; {"role": .., "content": ..} dicts (gradio's history) are accepted too."""
    out = []
    for item in messages:
        role, content = (item["role"], item["content"]) if isinstance(item, dict) else item
        if role not in ROLES:
            raise LLMError(f"unknown message role {role!r} (known: {', '.join(ROLES)})")
        out.append((role, str(content)))
    return out


# ---------------------------------------------------------------------------- generators


def _chat_messages(messages: Messages) -> list[Any]:
    from llama_index.core.base.llms.types import ChatMessage

    return [ChatMessage(role=role, content=content) for role, content in check_messages(messages)]


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__


@dataclass
class LlamaIndexGenerator:
    """A llama-index LLM behind the Generator interface; errors become LLMError."""

    name: str
    llm: Any

    def stream_chat(self, messages: Messages) -> Iterator[str]:
        chat = _chat_messages(messages)
        try:
            for response in self.llm.stream_chat(chat):
                if response.delta:
                    yield response.delta
        except LLMError:
            raise
        except Exception as e:
            raise self.error(e) from e

    def complete(self, messages: Messages) -> str:
        chat = _chat_messages(messages)
        try:
            return self.llm.chat(chat).message.content or ""
        except LLMError:
            raise
        except Exception as e:
            raise self.error(e) from e

    def error(self, e: Exception) -> LLMError:
        return LLMError(f"{self.name}: generation failed: {_first_line(e)}")


@dataclass
class TransformersGenerator(LlamaIndexGenerator):
    def format_prompt(self, messages: Messages) -> str:
        """The exact text the model is given for `messages` (the tokenizer's chat template)."""
        return self.llm.messages_to_prompt(_chat_messages(messages))


@dataclass
class OpenAIGenerator(LlamaIndexGenerator):
    base_url: str = ""
    timeout: float = 0.0

    def error(self, e: Exception) -> LLMError:
        import openai

        url = self.base_url
        if isinstance(e, openai.APITimeoutError):
            return LLMError(f"the LLM server at {url} did not answer within {self.timeout:g} s")
        if isinstance(e, openai.APIConnectionError):
            cause = e.__cause__ or e.__context__
            why = f" ({_first_line(cause)})" if cause else ""
            return LLMError(f"cannot connect to the LLM server at {url}{why}: is it running? Check [llm] base_url")
        if isinstance(e, openai.AuthenticationError):
            return LLMError(f"the LLM server at {url} rejected the API key: set [llm] api_key or RAG_LLM_API_KEY")
        if isinstance(e, openai.NotFoundError):
            return LLMError(
                f"the LLM server at {url} answered 404 for model {self.llm.model!r}:"
                " check [llm] model and that base_url ends in /v1"
            )
        if isinstance(e, openai.APIStatusError):
            return LLMError(f"the LLM server at {url} answered HTTP {e.status_code}: {_first_line(e)}")
        return LLMError(f"request to the LLM server at {url} failed: {_first_line(e)}")


# ---------------------------------------------------------------------------- factory


def make_llm(backend: str, cfg: LLMConfig, *, max_retries: int = 1) -> Generator:
    """Build the generator for `backend` ("transformers" | "openai") from the [llm] settings.
    `max_retries` applies to the openai backend (retries of a failed request)."""
    if backend == "transformers":
        return _make_transformers(cfg)
    if backend == "openai":
        return _make_openai(cfg, max_retries)
    raise LLMError(f"unknown LLM backend {backend!r} (known: {', '.join(BACKENDS)})")


def resolve_hf_model(model: str) -> tuple[str, bool]:
    """(what to load, load from local files only); LLMError when the model is unavailable."""
    try:
        return resolve_model(model, setting="[llm] model or RAG_LLM_MODEL")
    except ModelUnavailable as e:
        raise LLMError(str(e)) from None


def _make_transformers(cfg: LLMConfig) -> Generator:
    where, local_only = resolve_hf_model(cfg.model)
    try:
        device = resolve_device(cfg.device, "[llm] device or RAG_LLM_DEVICE")
    except DeviceError as e:
        raise LLMError(str(e)) from None
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(where, local_files_only=local_only)
        dtype = torch.float32 if device == "cpu" else "auto"
        model = AutoModelForCausalLM.from_pretrained(
            where, local_files_only=local_only, device_map=device, dtype=dtype
        )
    except LLMError:
        raise
    except Exception as e:
        raise LLMError(f"cannot load model {cfg.model!r}: {_first_line(e)}") from e
    if not getattr(tokenizer, "chat_template", None):
        raise LLMError(f"model {cfg.model!r} has no chat template in its tokenizer: use an instruct/chat model")

    from rag.models.hf import make_hf_llm

    llm = make_hf_llm(
        model=model,
        tokenizer=tokenizer,
        name=where,
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        device=device,
        stream_timeout=cfg.timeout,
    )
    return TransformersGenerator(name=f"transformers:{cfg.model}", llm=llm)


def _make_openai(cfg: LLMConfig, max_retries: int) -> Generator:
    base_url = (cfg.base_url or os.environ.get("OPENAI_BASE_URL", "")).strip().rstrip("/")
    if not base_url:
        raise LLMError(
            "no server URL for the openai backend: set [llm] base_url in rag.toml or RAG_LLM_BASE_URL"
            " (e.g. http://127.0.0.1:8000/v1)"
        )
    if urllib.parse.urlsplit(base_url).scheme not in ("http", "https"):
        raise LLMError(f"[llm] base_url must start with http:// or https://, got {base_url!r}")
    if not cfg.model.strip():
        raise LLMError("no model name for the openai backend: set [llm] model or RAG_LLM_MODEL to the name the server serves")
    api_key = (
        cfg.api_key or os.environ.get("RAG_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or "none"
    )
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model=cfg.model.strip(),
        api_base=base_url,
        api_key=api_key,
        is_chat_model=True,
        timeout=cfg.timeout,
        temperature=cfg.temperature,
        max_tokens=cfg.max_new_tokens,
        max_retries=max_retries,
    )
    return OpenAIGenerator(name=f"openai:{cfg.model}", llm=llm, base_url=base_url, timeout=cfg.timeout)
