"""Embedding cache: vectors by (model id, hash of the embedded text), in SQLite.

Rebuilding or adding documents re-embeds only text the model has not seen: unchanged chunks
come back from here. Shared by all index versions (index/cache/embeddings.sqlite).
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False)
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, dim INTEGER, vec BLOB,"
                " PRIMARY KEY (model, hash))")
        except sqlite3.DatabaseError:
            # a damaged cache is only a cache: start a new one
            self.path.unlink(missing_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False)
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, dim INTEGER, vec BLOB,"
                " PRIMARY KEY (model, hash))")

    def get_many(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        uniq = list(dict.fromkeys(hashes))
        for i in range(0, len(uniq), 500):
            part = uniq[i:i + 500]
            q = f"SELECT hash, vec FROM vectors WHERE model=? AND hash IN ({','.join('?' * len(part))})"
            for h, blob in self._conn.execute(q, [model, *part]):
                out[h] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put_many(self, model: str, hashes: list[str], vectors: np.ndarray) -> None:
        with self._conn:
            self._conn.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?,?,?,?)",
                [(model, h, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for h, v in zip(hashes, vectors)],
            )

    def close(self) -> None:
        self._conn.close()
