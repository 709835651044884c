"""Lexical retrieval for Chinese: our own tokens into bm25s.

bm25s's default tokenizer splits on `\\b\\w\\w+\\b`, which makes a run of Chinese characters one
token (every score 0.0), so we tokenize ourselves: jieba words (search mode, so 两法衔接 also
yields 两法 and 衔接) plus character bigrams of every Chinese run, which catches terms jieba
splits differently in the question and in the text. Stop words and punctuation are dropped.

The index maps bm25s's row positions to our integer chunk ids; it is saved beside the FAISS
vectors and covered by the manifest (`TOKENIZER_VERSION`).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import numpy as np

TOKENIZER_VERSION = "jieba-search+bigram-v1"  # also covers what is tokenized (title + path + text)
_CJK_RUN_RE = re.compile(r"[\u3400-\u9fff]+")
_WORD_RE = re.compile(r"[\u3400-\u9fff]|[A-Za-z]+|\d+(?:\.\d+)?%?")
STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 对 为 以 等 并 将 把 被 由 从 向 于 就 都 而 也 又 其 该 各 之 中 上 下 "
    "有 要 会 能 可 这 那 哪 个 些 吗 呢 吧 啊 么 什么 怎么 怎样 如何 哪些 哪个 哪里 多少 是否 "
    "我 我们 你 他 她 它 请问 请 想 知道 问 一下 一个".split()
)
_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba():
    global _jieba_ready
    import jieba

    if not _jieba_ready:
        with _jieba_lock:
            if not _jieba_ready:
                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba_ready = True
    return jieba


def tokenize(text: str, bigrams: bool = True) -> list[str]:
    """Tokens of normalised text: jieba search-mode words (stop words dropped) and, for every
    Chinese run, its character bigrams."""
    jieba = _jieba()
    tokens = []
    for w in jieba.lcut_for_search(text):
        w = w.strip().lower()
        if not w or w in STOPWORDS or not _WORD_RE.search(w):
            continue
        if len(w) == 1 and not w.isdigit():
            continue  # single characters carry little; bigrams cover them
        tokens.append(w)
    if bigrams:
        for run in _CJK_RUN_RE.findall(text):
            tokens.extend("#" + run[i:i + 2] for i in range(len(run) - 1))
    return tokens


class LexicalIndex:
    """BM25 over token lists, with our chunk ids. `search` can be limited to allowed ids."""

    def __init__(self, retriever, ids: np.ndarray, bigrams: bool = True):
        self._bm25 = retriever
        self.ids = np.asarray(ids, dtype=np.int64)
        self._pos = {int(i): p for p, i in enumerate(self.ids)}
        self.bigrams = bigrams

    @classmethod
    def build(cls, token_lists: list[list[str]], ids, bigrams: bool = True) -> "LexicalIndex":
        import bm25s

        retriever = bm25s.BM25(k1=1.2, b=0.75)
        if token_lists:
            retriever.index([t or [""] for t in token_lists], show_progress=False)
        return cls(retriever if token_lists else None, np.asarray(ids, dtype=np.int64), bigrams)

    def __len__(self) -> int:
        return len(self.ids)

    def doc_freq(self, tokens: list[str]) -> dict[str, int]:
        """How many chunks contain each token (0 for tokens the index has never seen)."""
        if self._bm25 is None:
            return {t: 0 for t in tokens}
        vocab = self._bm25.vocab_dict
        indptr = self._bm25.scores["indptr"]
        out = {}
        for t in tokens:
            i = vocab.get(t)
            out[t] = int(indptr[i + 1] - indptr[i]) if i is not None else 0
        return out

    def scores(self, query: str) -> np.ndarray:
        if self._bm25 is None:
            return np.zeros(0, dtype=np.float32)
        ids = self._bm25.get_tokens_ids(tokenize(query, self.bigrams))
        if not ids:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, query: str, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """(chunk id, score) best first; only positive scores; restricted to `allowed` ids."""
        scores = self.scores(query)
        if scores.size == 0:
            return []
        if allowed is not None:
            mask = np.zeros(len(scores), dtype=bool)
            pos = [self._pos[i] for i in allowed if i in self._pos]
            mask[pos] = True
            scores = np.where(mask, scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[p]), float(scores[p])) for p in top if scores[p] > 0]

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self._bm25 is not None:
            self._bm25.save(str(folder), show_progress=False)
        np.save(folder / "ids.npy", self.ids)
        (folder / "lexical.json").write_text(
            json.dumps({"tokenizer": TOKENIZER_VERSION, "bigrams": self.bigrams, "n": len(self.ids)}),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "LexicalIndex":
        import bm25s

        folder = Path(folder)
        info = json.loads((folder / "lexical.json").read_text(encoding="utf-8"))
        ids = np.load(folder / "ids.npy")
        retriever = bm25s.BM25.load(str(folder), mmap=mmap) if info["n"] else None
        return cls(retriever, ids, info.get("bigrams", True))
