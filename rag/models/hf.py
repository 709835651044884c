"""llama-index HuggingFaceLLM with safer streaming. Imported only by the transformers backend
(it imports torch, transformers and llama_index.llms.huggingface).

The stock `stream_complete` runs `generate` in a thread whose errors are lost, so the reader
waits forever on the streamer. Here an error in the thread ends the stream and is re-raised
to the reader, a stalled stream raises after `stream_timeout` seconds, and generation stops
when the reader stops reading (a closed generator, e.g. a client that went away).
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import torch
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.llms.huggingface import HuggingFaceLLM
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer


class _StopOnEvent(StoppingCriteria):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> bool:
        return self.event.is_set()


class SafeStreamingHuggingFaceLLM(HuggingFaceLLM):
    _stream_timeout: float | None = PrivateAttr(default=None)

    @classmethod
    def class_name(cls) -> str:
        return "SafeStreamingHuggingFaceLLM"

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        full_prompt = prompt
        if not formatted:
            if self.query_wrapper_prompt:
                full_prompt = self.query_wrapper_prompt.format(query_str=prompt)
            if self.system_prompt:
                full_prompt = f"{self.system_prompt} {full_prompt}"
        inputs = self._tokenizer(full_prompt, return_tensors="pt").to(self._model.device)
        for key in self.tokenizer_outputs_to_remove:
            inputs.pop(key, None)

        streamer = TextIteratorStreamer(
            self._tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self._stream_timeout
        )
        stop = threading.Event()
        errors: list[BaseException] = []
        criteria = StoppingCriteriaList([*self._stopping_criteria, _StopOnEvent(stop)])

        def run() -> None:
            try:
                self._model.generate(
                    **inputs,
                    streamer=streamer,
                    max_new_tokens=self.max_new_tokens,
                    stopping_criteria=criteria,
                    **self.generate_kwargs,
                )
            except BaseException as e:  # handed to the reader
                errors.append(e)
                streamer.end()

        def gen() -> CompletionResponseGen:
            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            text = ""
            try:
                for delta in streamer:
                    if delta:
                        text += delta
                        yield CompletionResponse(text=text, delta=delta)
            except queue.Empty:
                raise TimeoutError(f"the model produced no text for {self._stream_timeout:g} s") from None
            finally:
                stop.set()
            if errors:
                raise errors[0]

        return gen()


def make_hf_llm(
    *,
    model: Any,
    tokenizer: Any,
    name: str,
    max_new_tokens: int,
    temperature: float,
    device: str,
    stream_timeout: float | None,
) -> SafeStreamingHuggingFaceLLM:
    """Wrap a loaded model and tokenizer; greedy decoding unless temperature > 0."""
    vocab = tokenizer.get_vocab()
    stop_ids = {i for i in (tokenizer.eos_token_id, vocab.get("<|im_end|>"), vocab.get("<|endoftext|>")) if i is not None}
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if temperature > 0:
        generate_kwargs: dict[str, Any] = {"do_sample": True, "temperature": float(temperature)}
    else:
        generate_kwargs = {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
    if pad_id is not None:
        generate_kwargs["pad_token_id"] = pad_id
    context_window = int(getattr(model.config, "max_position_embeddings", 0) or 4096)
    llm = SafeStreamingHuggingFaceLLM(
        model_name=name,
        tokenizer_name=name,
        model=model,
        tokenizer=tokenizer,
        context_window=context_window,
        max_new_tokens=max_new_tokens,
        device_map=device,
        stopping_ids=sorted(stop_ids),
        generate_kwargs=generate_kwargs,
        is_chat_model=True,
        tokenizer_kwargs={"max_length": context_window},
    )
    llm._stream_timeout = stream_timeout if stream_timeout and stream_timeout > 0 else None
    return llm
