"""Tiny random models saved in a folder, for the torch backends without any download.

`tiny_qwen2` is a 2-layer Qwen2 chat model with a byte-level BPE tokenizer trained on the given
texts and a ChatML template; `tiny_sentence_transformer` a 2-layer BERT with character WordPiece
and mean pooling. Both are deterministic (seeded) and load through the same code paths as real
hub models (`AutoModelForCausalLM`, `SentenceTransformer`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from rag.bench.llm import CHATML, SPECIALS


def tiny_qwen2(folder: Path, texts: Iterable[str]) -> str:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    specials = SPECIALS
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=800, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(list(texts) * 5, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML
    fast.save_pretrained(folder)
    ids = [fast.convert_tokens_to_ids(t) for t in specials]
    cfg = Qwen2Config(
        vocab_size=len(fast), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
        eos_token_id=ids[2], pad_token_id=ids[0], bos_token_id=None, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg)
    with torch.no_grad():
        model.lm_head.weight[ids] = 0.0  # never emit special tokens: every run yields text
    model.save_pretrained(folder)
    return str(folder)


def tiny_sentence_transformer(folder: Path, texts: Iterable[str]) -> str:
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel, BertTokenizerFast

    chars = sorted({c for t in texts for c in t if not c.isspace()})
    raw = Path(folder) / "bert"
    raw.mkdir(parents=True)
    (raw / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars]) + "\n",
                                   encoding="utf-8")
    tokenizer = BertTokenizerFast(vocab_file=str(raw / "vocab.txt"), tokenize_chinese_chars=True)
    tokenizer.save_pretrained(raw)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=512)).save_pretrained(raw)
    body = Transformer(str(raw), max_seq_length=256)
    model = SentenceTransformer(modules=[body, Pooling(body.get_embedding_dimension(), "mean")], device="cpu")
    out = Path(folder) / "st"
    model.save(str(out))
    return str(out)
