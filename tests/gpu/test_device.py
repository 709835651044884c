"""The device setting of the torch backends (sentence-transformers embeddings, transformers LLM,
cross-encoder reranker), and those backends on a CUDA GPU.

The first part runs everywhere: "auto" follows what torch sees, and a device that is malformed or
not present fails before any model loads, with one line naming the setting. The GPU part runs
where torch sees a CUDA GPU (it is skipped on CPU-only machines such as CI) and checks that the
models really run there and give what they give on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
from support.tinymodels import tiny_qwen2, tiny_sentence_transformer

from rag.answer.context import Source
from rag.answer.generative import build_answer_messages, generate_answer
from rag.answer.prompts import render
from rag.config import EmbeddingConfig, LLMConfig
from rag.errors import DeviceError, EmbeddingError, LLMError, RerankError
from rag.models.device import resolve_device
from rag.models.embed import embed_passages, embed_query, make_embedding
from rag.models.generate import make_llm
from rag.models.rerank import make_reranker

torch = pytest.importorskip("torch")
GPU = torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not GPU, reason="torch sees no CUDA GPU")

QUESTION = "两法衔接平台哪年建成?"
SOURCES = [
    Source(1, "陕西省法治政府建设实施方案(2021-2025年)", "三、(五)",
           "2022年底前建成全省统一的行政执法和刑事司法衔接信息平台。(省司法厅牵头)"),
    Source(2, "利通区法治政府建设实施方案", "二、(一)", "由区市场监管局牵头,各有关部门配合,推进证照分离改革。"),
]
TEXTS = [s.text for s in SOURCES] + [render("answer_system"), QUESTION, "system user assistant"]


@pytest.fixture(scope="module")
def qwen_dir(tmp_path_factory):
    return tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"), TEXTS)


@pytest.fixture(scope="module")
def st_dir(tmp_path_factory):
    return tiny_sentence_transformer(tmp_path_factory.mktemp("tiny-st"), TEXTS)


def st_config(model: str, device: str) -> EmbeddingConfig:
    return EmbeddingConfig(backend="sentence-transformers", model=model, device=device, batch_size=8)


# ---------------------------------------------------------------------------- the setting


@pytest.mark.parametrize("gpu", [False, True])
def test_auto_follows_what_torch_sees(monkeypatch, gpu):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert resolve_device("auto", "x") == ("cuda" if gpu else "cpu")
    assert resolve_device("", "x") == resolve_device(" AUTO ", "x") == ("cuda" if gpu else "cpu")
    assert resolve_device("cpu", "x") == "cpu"


@pytest.mark.parametrize("bad", ["gpu", "cuda0", "cuda:", "cuda:-1", "tpu", "cpu,cuda"])
def test_malformed_devices_name_the_setting(bad):
    with pytest.raises(DeviceError) as e:
        resolve_device(bad, "[llm] device or RAG_LLM_DEVICE")
    msg = str(e.value)
    assert msg.startswith("[llm] device or RAG_LLM_DEVICE must be auto, cpu, cuda, cuda:N or mps") and repr(bad) in msg
    assert "\n" not in msg


def test_a_gpu_that_is_not_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match=r"is 'cuda' but torch .* sees no CUDA GPU; use auto or cpu"):
        resolve_device("cuda", "s")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert resolve_device("cuda:0", "s") == "cuda:0"
    with pytest.raises(DeviceError, match=r"is 'cuda:1' but torch sees 1 CUDA GPU"):
        resolve_device("cuda:1", "s")


def test_each_backend_refuses_a_missing_gpu_before_loading(monkeypatch, qwen_dir, st_dir):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(LLMError, match=r"^\[llm\] device or RAG_LLM_DEVICE is 'cuda' but"):
        make_llm("transformers", LLMConfig(model=qwen_dir, device="cuda"))
    with pytest.raises(EmbeddingError, match=r"^\[embedding\] device or RAG_EMBEDDING_DEVICE is 'cuda:0' but"):
        make_embedding(st_config(st_dir, "cuda:0"))
    with pytest.raises(RerankError, match=r"must be auto, cpu"):
        make_reranker(st_dir, device="gpu")


def test_auto_on_a_cpu_machine_loads_on_the_cpu(monkeypatch, qwen_dir, st_dir):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    gen = make_llm("transformers", LLMConfig(model=qwen_dir, device="auto", max_new_tokens=4))
    assert gen.llm._model.device.type == "cpu" and gen.llm._model.dtype == torch.float32
    emb = make_embedding(st_config(st_dir, "auto"))
    assert emb._model.device.type == "cpu"


# ---------------------------------------------------------------------------- on a GPU


@needs_gpu
@pytest.mark.parametrize("device", ["auto", "cuda", "cuda:0"])
def test_transformers_backend_generates_on_the_gpu(qwen_dir, device):
    gen = make_llm("transformers", LLMConfig(model=qwen_dir, device=device, temperature=0.0, max_new_tokens=12))
    assert gen.llm._model.device.type == "cuda"
    messages = build_answer_messages(QUESTION, SOURCES)
    deltas = list(gen.stream_chat(messages))
    assert deltas and all(isinstance(d, str) and d for d in deltas)
    assert "".join(deltas) == gen.complete(messages)  # greedy: streaming and one-shot agree
    assert isinstance("".join(generate_answer(gen, QUESTION, SOURCES)), str)


@needs_gpu
def test_transformers_stream_stops_when_the_reader_goes_away_on_the_gpu(qwen_dir):
    gen = make_llm("transformers", LLMConfig(model=qwen_dir, device="cuda", temperature=0.0, max_new_tokens=400))
    stream = gen.stream_chat([("user", QUESTION)])
    next(stream)
    stream.close()  # a client that went away: generation must stop, the GPU is free for the next one
    assert "".join(gen.stream_chat([("user", QUESTION)]))


@needs_gpu
def test_gpu_and_cpu_generation_agree_on_the_first_tokens(qwen_dir):
    outs = {}
    for device in ("cpu", "cuda"):
        gen = make_llm("transformers", LLMConfig(model=qwen_dir, device=device, temperature=0.0, max_new_tokens=3))
        outs[device] = gen.complete(build_answer_messages(QUESTION, SOURCES))
    assert outs["cpu"] and outs["cpu"] == outs["cuda"]


@needs_gpu
def test_sentence_transformers_embeddings_on_the_gpu_match_the_cpu(st_dir):
    gpu = make_embedding(st_config(st_dir, "auto"))
    cpu = make_embedding(st_config(st_dir, "cpu"))
    assert gpu._model.device.type == "cuda" and cpu._model.device.type == "cpu"
    texts = [s.text for s in SOURCES] * 20
    a, b = embed_passages(gpu, texts), embed_passages(cpu, texts)
    assert a.shape == b.shape and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.9999
    q = embed_query(gpu, QUESTION)
    assert float(q @ embed_query(cpu, QUESTION)) > 0.9999


@needs_gpu
def test_reranker_on_the_gpu(st_dir):
    reranker = make_reranker(st_dir)  # a bi-encoder folder loads as a CrossEncoder with a fresh head
    assert str(reranker.model.model.device).startswith("cuda")
    scores = reranker.rerank(QUESTION, [s.text for s in SOURCES])
    assert len(scores) == 2 and all(np.isfinite(scores))
