"""`python -m rag.bench.llm` (`make bench-llm`): how fast the `transformers` answer backend
generates, for the sizes of the Qwen2.5 instruct models, on this machine's CPU or GPU.

No weights can be downloaded here, so each model has the real architecture and size of its
Qwen2.5 namesake with random weights: the arithmetic per token, and so the time, is the real
model's; the text is noise. The prompts are real: `prompts` builds the answer prompt (system
prompt, the retrieved sections, the question) for evaluation questions from the index, exactly as
the LLM answerer does. A character-level tokenizer stands in for Qwen's, so every character is
one token: a pessimistic count, since Qwen's tokenizer packs common Chinese words into one token.

    python -m rag.bench.llm prompts [--n 12] [--out FILE]       # needs the index
    python -m rag.bench.llm run [--shapes 0.5b,7b] [--device auto] [--new-tokens 200]

`run` prints one JSON line per model size: time to the first streamed text (prefill), decode
speed, the whole answer's time, and the GPU's peak memory. Nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from rag.bench.measure import QUESTIONS_FILE
from rag.config import ROOT, load_config
from rag.models.generate import TransformersGenerator

PROMPTS_FILE = ROOT / "var" / "bench" / "llm_prompts.jsonl"
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = (  # Qwen's chat format
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
VOCAB = 151_936  # Qwen2.5's; the output layer's size matters for the time per token
# hidden, intermediate, layers, attention heads, key/value heads, tied embeddings (the models' config.json)
SHAPES = {
    "0.5b": (896, 4864, 24, 14, 2, True),
    "1.5b": (1536, 8960, 28, 12, 2, True),
    "3b": (2048, 11008, 36, 16, 2, True),
    "7b": (3584, 18944, 28, 28, 4, False),
    "14b": (5120, 13824, 48, 40, 8, False),
}


def build_prompts(n: int, out: Path, index_dir: str | None = None) -> list[list[tuple[str, str]]]:
    """Answer prompts for the first `n` answerable evaluation questions, over the sections the LLM
    answerer would be given for them."""
    from rag.answer.generative import as_sources, build_answer_messages, llm_hits
    from rag.evaluation.dataset import load_questions
    from rag.pipeline import Pipeline

    pipeline = Pipeline.from_config(load_config(), index_dir)
    questions = [q.question for q in load_questions(QUESTIONS_FILE) if q.answerable][:n]
    prompts = [build_answer_messages(q, as_sources(llm_hits(pipeline.snapshot().evidence(q)))) for q in questions]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in prompts), encoding="utf-8")
    return prompts


def char_tokenizer(texts: list[str]):
    """One token per character of `texts`, ChatML specials, and filler tokens up to Qwen's vocabulary."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    chars = sorted({c for t in texts for c in t})
    words = SPECIALS + chars
    words += [f"‹{i}› " for i in range(VOCAB - len(words))]  # the space lets the streamer hand each one out
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=["<|im_start|>"])
    fast.chat_template = CHATML
    return fast


def random_model(shape: str, device: str):
    """A Qwen2 model of the named size with random weights, on `device` (bf16 on a GPU, fp32 on
    the CPU, as the transformers backend loads them)."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    hidden, inter, layers, heads, kv, tied = SHAPES[shape]
    cfg = Qwen2Config(vocab_size=VOCAB, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=kv, tie_word_embeddings=tied,
                      max_position_embeddings=32768, rope_theta=1_000_000.0, eos_token_id=2, pad_token_id=0)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    default = torch.get_default_dtype()
    torch.manual_seed(0)
    try:
        torch.set_default_dtype(dtype)
        with torch.device(device):
            model = Qwen2ForCausalLM(cfg)
    finally:
        torch.set_default_dtype(default)
    with torch.no_grad():
        model.lm_head.weight[:3] = 0.0  # logit 0 never wins: no end token, every answer has its full length
        # (min_new_tokens would do the same but costs ~40 ms per token on a GPU in transformers 5.17)
    return model.eval()


def time_answers(gen: TransformersGenerator, prompts: list, new_tokens: int) -> list[dict]:
    runs = []
    for messages in prompts:
        start = time.perf_counter()
        first, n = None, 0
        for _ in gen.stream_chat(messages):  # one piece per token: fillers end in a space, CJK flushes
            n += 1
            if first is None:
                first = time.perf_counter()
        end = time.perf_counter()
        runs.append({"first_s": first - start, "total_s": end - start, "tokens": n,
                     "decode_tps": (n - 1) / max(end - first, 1e-9)})
    return runs


def run(shapes: list[str], device: str, new_tokens: int, prompts: list) -> list[dict]:
    import torch

    from rag.models.device import resolve_device
    from rag.models.hf import make_hf_llm

    device = resolve_device(device, "--device")
    tokenizer = char_tokenizer([content for p in prompts for _, content in p])
    results = []
    for shape in shapes:
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        model = random_model(shape, device)
        made = time.perf_counter() - t0
        llm = make_hf_llm(model=model, tokenizer=tokenizer, name=f"random-qwen2.5-{shape}", max_new_tokens=new_tokens,
                          temperature=0.0, device=device, stream_timeout=None)
        gen = TransformersGenerator(name=f"transformers:random-qwen2.5-{shape}", llm=llm)
        lengths = [len(tokenizer(gen.format_prompt(p))["input_ids"]) for p in prompts]
        time_answers(gen, prompts[:1], new_tokens)  # warm-up: kernels, caches
        runs = time_answers(gen, prompts, new_tokens)
        row = {
            "shape": f"qwen2.5-{shape}", "params_b": round(sum(p.numel() for p in model.parameters()) / 1e9, 2),
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
            "dtype": str(model.dtype).removeprefix("torch."), "torch": torch.__version__,
            "prompts": len(runs), "prompt_tokens_median": int(statistics.median(lengths)),
            "new_tokens_median": int(statistics.median(r["tokens"] for r in runs)), "model_init_s": round(made, 1),
            "first_text_ms_p50": round(1000 * statistics.median(r["first_s"] for r in runs), 1),
            "first_text_ms_max": round(1000 * max(r["first_s"] for r in runs), 1),
            "decode_tokens_per_s_p50": round(statistics.median(r["decode_tps"] for r in runs), 1),
            "answer_s_p50": round(statistics.median(r["total_s"] for r in runs), 2),
        }
        if device.startswith("cuda"):
            row["gpu_peak_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
        print(json.dumps(row, ensure_ascii=False), flush=True)
        results.append(row)
        del gen, llm, model
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.bench.llm", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prompts", help="build answer prompts for evaluation questions from the index")
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--out", type=Path, default=PROMPTS_FILE)
    p.add_argument("--index", default=None)
    r = sub.add_parser("run", help="time the transformers backend on random-weight Qwen2.5-sized models")
    r.add_argument("--prompts", type=Path, default=PROMPTS_FILE)
    r.add_argument("--shapes", default="0.5b", help=f"comma-separated, of {', '.join(SHAPES)}")
    r.add_argument("--device", default="auto")
    r.add_argument("--new-tokens", type=int, default=200)
    r.add_argument("--n", type=int, default=4, help="prompts timed per size")
    args = ap.parse_args(argv)
    shapes = [s.strip().lower() for s in getattr(args, "shapes", "").split(",") if s.strip()]
    unknown = [s for s in shapes if s not in SHAPES]
    if args.cmd == "run" and (unknown or not shapes):
        print(f"error: unknown size(s) {', '.join(unknown) or '(none)'}; known: {', '.join(SHAPES)}", file=sys.stderr)
        return 2
    from rag.errors import guarded

    return guarded(lambda: _command(args, shapes))


def _command(args: argparse.Namespace, shapes: list[str]) -> int:
    from rag.errors import CLIError

    if args.cmd == "prompts":
        prompts = build_prompts(args.n, args.out, args.index)
        print(json.dumps({"prompts": len(prompts), "out": str(args.out)}, ensure_ascii=False))
        return 0
    if not args.prompts.is_file():
        raise CLIError(f"no prompts at {args.prompts}: run `python -m rag.bench.llm prompts` first")
    prompts = [[tuple(m) for m in json.loads(line)] for line in args.prompts.read_text(encoding="utf-8").splitlines()
               if line.strip()][: args.n]
    if not prompts:
        raise CLIError(f"{args.prompts} holds no prompts: run `python -m rag.bench.llm prompts` again")
    run(shapes, args.device, args.new_tokens, prompts)
    return 0

if __name__ == "__main__":
    sys.exit(main())
