"""Tokens for Chinese text: jieba words (search mode) plus character bigrams.

bm25s's default tokenizer splits on `\\b\\w\\w+\\b`, which makes a run of Chinese characters one
token (every score 0.0), so we tokenize ourselves: jieba words in search mode (两法衔接 also
yields 两法 and 衔接) plus the character bigrams of every Chinese run, which catch terms jieba
splits differently in a question and in the text. Stop words, punctuation and single
characters are dropped. The same `Tokenizer` serves the index builder, lexical search and the
answer stage's keyword checks, so a word means the same thing everywhere.

A `Tokenizer` object owns its jieba segmenter; nothing here is switched globally:
- `Tokenizer()` loads jieba's whole prefix dictionary on first use (0.6 s; the right choice
  for bulk text such as an index build);
- `Tokenizer(dictionary=PATH)` segments with a SQLite copy of that dictionary (written by the
  builder with `write_dictionary`, read lazily, one lookup per candidate word): identical
  tokens without the 0.6 s load, which is what an opened index gives its questions.
The loaded full dictionary is shared by every `Tokenizer()` of the process (it is read-only).

Questions are short and repeat: a `Tokenizer` keeps the tokens of recent short texts (an LRU
of `CACHE_SIZE`), and a long-lived process (the app, a benchmark, an evaluation: anything that
tokenizes a second question, or calls `warm()`) loads the full dictionary in the background,
after which no question waits on SQLite lookups (which cost up to 45× the BM25 scoring on a
cold page cache). A one-question command never pays for that load.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterable

TOKENIZER_VERSION = "jieba-search+bigram-v1"  # also covers what is tokenized (title + path + text)
DICTIONARY_FILE = "jieba-freq.sqlite"
CJK_RUN_RE = re.compile(r"[\u3400-\u9fff]+")
_WORD_RE = re.compile(r"[\u3400-\u9fff]|[A-Za-z]+|\d+(?:\.\d+)?%?")
STOPWORDS = frozenset(
    "的 了 和 与 及 或 是 在 对 为 以 等 并 将 把 被 由 从 向 于 就 都 而 也 又 其 该 各 之 中 上 下 "
    "有 要 会 能 可 这 那 哪 个 些 吗 呢 吧 啊 么 什么 怎么 怎样 如何 哪些 哪个 哪里 多少 是否 "
    "我 我们 你 他 她 它 请问 请 想 知道 问 一下 一个".split()
)
BULK_CHARS = 4000  # texts longer than this are segmented with the full dictionary even on a light tokenizer
CACHE_SIZE = 4096  # recent short texts whose tokens a Tokenizer keeps
CACHE_CHARS = 400  # only texts up to this long are cached (questions, not documents)
WARM_AFTER = 2  # a light tokenizer loads the full dictionary in the background from this many texts on
_lock = threading.Lock()
_warming: threading.Thread | None = None


def warm_full(background: bool = True) -> threading.Thread | None:
    """Load the full dictionary now, or in a daemon thread (once per process)."""
    global _warming
    if full_segmenter.cache_info().currsize:
        return None
    if not background:
        full_segmenter()
        return None
    with _lock:
        if _warming is None:
            _warming = threading.Thread(target=full_segmenter, name="jieba-warm", daemon=True)
            _warming.start()
        return _warming


def private_cache_dir() -> Path:
    """A folder only this user can write, for jieba's dictionary cache. jieba keeps it in the
    world-writable temp folder by default, where anyone could plant a cache that changes every
    token (营业执照 → 办营业/执照). $XDG_CACHE_HOME/rag (or ~/.cache/rag), mode 700; a folder of
    the wrong owner or mode is not used: then a fresh private temporary folder is."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rag"
    try:
        base.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = base.stat()
        if st.st_uid == os.getuid() and not st.st_mode & 0o077:
            return base
        if st.st_uid == os.getuid():
            os.chmod(base, 0o700)
            return base
    except OSError:
        pass
    import tempfile

    return Path(tempfile.mkdtemp(prefix="rag-jieba-"))


@lru_cache(maxsize=1)
def full_segmenter():
    """jieba's default tokenizer with its whole prefix dictionary loaded (read-only once loaded);
    its cache lives in `private_cache_dir()`, never in the shared temp folder."""
    import jieba

    with _lock:
        jieba.setLogLevel(logging.WARNING)
        jieba.dt.tmp_dir = str(private_cache_dir())
        jieba.initialize()
    return jieba.dt


def _dictionary_key() -> str:
    """Identifies the installed jieba dictionary (version, size and mtime of dict.txt)."""
    import jieba

    path = Path(jieba.__file__).parent / "dict.txt"
    try:
        st = path.stat()
        return f"{jieba.__version__}:{st.st_size}:{int(st.st_mtime)}"
    except OSError:
        return f"{jieba.__version__}:?"


class _SQLiteFreq:
    """The part of a dict jieba uses (`in`, `[]`, `get`) over the prefix dictionary in SQLite.
    Lookups are cached; a question needs a few hundred."""

    def __init__(self, path: Path):
        self._conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        self._cache: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def total(self) -> int:
        return int(self._conn.execute("SELECT v FROM meta WHERE k='total'").fetchone()[0])

    def get(self, key, default=None):
        try:
            v = self._cache[key]
        except KeyError:
            with self._lock:
                row = self._conn.execute("SELECT f FROM freq WHERE w=?", (key,)).fetchone()
            v = row[0] if row else None
            if len(self._cache) > 500_000:
                self._cache.clear()
            self._cache[key] = v
        return default if v is None else v

    def __contains__(self, key) -> bool:
        return self.get(key) is not None

    def __getitem__(self, key) -> int:
        v = self.get(key)
        if v is None:
            raise KeyError(key)
        return v


def _read_dictionary_key(path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT v FROM meta WHERE k='key'").fetchone()
        finally:
            conn.close()
        return row[0] if row else None
    except sqlite3.DatabaseError:
        return None


def write_dictionary(path: Path) -> Path:
    """Write jieba's prefix dictionary to `path` (SQLite, atomically) unless an up-to-date
    copy is there. The index builder calls it, so that an opened index tokenizes questions
    without loading the whole dictionary."""
    path = Path(path)
    key = _dictionary_key()
    if _read_dictionary_key(path) == key:
        return path
    dt = full_segmenter()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT)")
        conn.execute("CREATE TABLE freq (w TEXT PRIMARY KEY, f INTEGER) WITHOUT ROWID")
        conn.executemany("INSERT INTO freq VALUES (?,?)", dt.FREQ.items())
        conn.executemany("INSERT INTO meta VALUES (?,?)", [("key", key), ("total", str(dt.total))])
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, path)
    return path


def tokens_of(words: Iterable[str], text: str, bigrams: bool) -> list[str]:
    """Filter segmented `words` (stop words, punctuation, single characters) and add the
    character bigrams of `text`'s Chinese runs ("#" + two characters)."""
    tokens = []
    for w in words:
        w = w.strip().lower()
        if not w or w in STOPWORDS or not _WORD_RE.search(w):
            continue
        if len(w) == 1 and not w.isdigit():
            continue  # single characters carry little; bigrams cover them
        tokens.append(w)
    if bigrams:
        tokens.extend(bigram_tokens(text))
    return tokens


def bigram_tokens(text: str) -> list[str]:
    """The character-bigram tokens of `text`'s Chinese runs, as the index holds them."""
    return ["#" + run[i:i + 2] for run in CJK_RUN_RE.findall(text) for i in range(len(run) - 1)]


class Tokenizer:
    """Words and bigrams of normalised text (see the module docstring)."""

    version = TOKENIZER_VERSION

    def __init__(self, dictionary: str | os.PathLike | None = None):
        path = Path(dictionary) if dictionary else None
        # a copy written for another jieba version is ignored: the full dictionary is used then
        self.dictionary = path if path is not None and _read_dictionary_key(path) == _dictionary_key() else None
        self._light = None
        self._light_lock = threading.Lock()
        self._cache: dict[tuple[str, int], list[str]] = {}
        self._seen = 0

    def warm(self, background: bool = True) -> threading.Thread | None:
        """Load the full dictionary (in the background): a server calls this at start."""
        return warm_full(background)

    def _segmenter(self, text: str):
        if self.dictionary is None or len(text) > BULK_CHARS or full_segmenter.cache_info().currsize:
            return full_segmenter()  # loaded anyway: it is the faster one
        self._seen += 1
        if self._seen >= WARM_AFTER:
            warm_full(background=True)  # a process that asks more than one question: load it once
        return self.light_segmenter()

    def light_segmenter(self):
        """The segmenter over the SQLite dictionary copy (same words as the full one)."""
        if self._light is None:
            with self._light_lock:
                if self._light is None:
                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    freq = _SQLiteFreq(self.dictionary)
                    tk = jieba.Tokenizer()
                    tk.FREQ, tk.total, tk.initialized = freq, freq.total(), True
                    self._light = tk
        return self._light

    def segment(self, text: str) -> list[str]:
        """jieba's search-mode words of `text`, unfiltered."""
        return self._segmenter(text).lcut_for_search(text)

    def _cached(self, text: str, mode: int) -> list[str]:
        if len(text) > CACHE_CHARS:
            return tokens_of(self.segment(text), text, mode == 1)
        key = (text, mode)
        hit = self._cache.get(key)
        if hit is None:
            hit = tokens_of(self.segment(text), text, mode == 1)
            if len(self._cache) >= CACHE_SIZE:
                try:
                    self._cache.pop(next(iter(self._cache)))  # the oldest
                except (StopIteration, KeyError, RuntimeError):
                    pass  # another thread changed it meanwhile
            self._cache[key] = hit
        return list(hit)

    def tokens(self, text: str, bigrams: bool = True) -> list[str]:
        """Index and query tokens: filtered words and, with `bigrams`, character bigrams."""
        return self._cached(text, 1 if bigrams else 0)

    def words(self, text: str) -> list[str]:
        """Content words only (no bigrams): what keyword checks compare."""
        return self._cached(text, 0)

    @staticmethod
    def load_full() -> None:
        """Load the whole dictionary now (before tokenizing many texts)."""
        full_segmenter()
