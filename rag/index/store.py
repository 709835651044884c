"""The SQLite chunk store of one index version: documents, chunks, duties.

The store is SQLite so that a million chunks need not sit in one JSON file loaded whole: rows
are read on demand. A reader opens a version's store read-only and immutable; a builder
writes a private copy (see `rag.index.layout` for where it lives).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from rag.errors import IndexCorrupt
from rag.records import Chunk, DocMeta, Document, Duty, Section

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    encoding TEXT, format TEXT,
    text TEXT NOT NULL,
    meta TEXT NOT NULL,
    sections TEXT NOT NULL,
    pages TEXT NOT NULL DEFAULT '[]',
    n_chunks INTEGER NOT NULL DEFAULT 0,
    n_duties INTEGER NOT NULL DEFAULT 0,
    n_sections INTEGER  -- len(sections), so that listing documents needs no outline JSON
);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_id TEXT UNIQUE NOT NULL,
    doc_id TEXT NOT NULL,
    section_path TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL,
    embed_hash TEXT NOT NULL,
    tokens TEXT NOT NULL,
    duties TEXT NOT NULL,
    deadlines TEXT NOT NULL,
    targets TEXT NOT NULL,
    page INTEGER
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
"""
# Listing documents reads only this index: in the table, every column after `text` (the whole
# document) sits behind its overflow pages, which made listing 20k documents read them all.
# Chunk frequency of every token, kept by stores whose search engine is not the local BM25 arrays
# (the milvus backend): the answer stage's IDF and `mentions` read it.
TERMS = """
CREATE TABLE IF NOT EXISTS terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;
"""
LIST_INDEX = """
CREATE INDEX IF NOT EXISTS documents_list
    ON documents(doc_id, path, sha256, meta, n_chunks, n_duties, n_sections, encoding, format);
"""


def _json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _duty_from(d: dict) -> Duty:
    return Duty(**d)


@dataclass
class DocRecord:
    doc_id: str
    path: str
    sha256: str
    meta: DocMeta
    n_chunks: int
    n_duties: int
    n_sections: int
    encoding: str = ""
    format: str = ""

    def to_dict(self) -> dict:
        return {
            "doc_id": self.doc_id, "path": self.path, "sha256": self.sha256,
            "format": self.format, "encoding": self.encoding,
            **self.meta.to_dict(), "sections": self.n_sections, "chunks": self.n_chunks,
            "duties": self.n_duties,
        }


class ChunkStore:
    """SQLite rows for documents and chunks. One connection per thread."""

    def __init__(self, path: Path, readonly: bool = True, term_df: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self.term_df = term_df  # keep the `terms` table (chunk frequency per token) up to date
        self._count: int | None = None
        self._local = threading.local()
        if readonly and not self.path.exists():
            raise IndexCorrupt(f"{self.path} is missing; rebuild with `make index`")
        self._conn()  # fail early on a broken file

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                if self.readonly:
                    conn = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
                else:
                    conn = sqlite3.connect(self.path, check_same_thread=False)
                    # a writable store is always a build's private copy (see build.py): a crash
                    # discards it, so no on-disk journal and no fsync per document; close()
                    # makes the finished file durable before the manifest names it
                    conn.execute("PRAGMA journal_mode=MEMORY")
                    conn.execute("PRAGMA synchronous=OFF")
                    conn.executescript(SCHEMA)
                    cols = {r[1] for r in conn.execute("PRAGMA table_info(documents)")}
                    if "n_sections" not in cols:  # a store written before the column existed
                        conn.execute("ALTER TABLE documents ADD COLUMN n_sections INTEGER")
                        conn.execute("UPDATE documents SET n_sections=json_array_length(sections)")
                        conn.commit()
                    conn.executescript(LIST_INDEX)
                    if self.term_df:
                        conn.executescript(TERMS)
                conn.execute("SELECT 1 FROM chunks LIMIT 1").fetchone()  # not count(*): a full scan
            except sqlite3.DatabaseError as e:
                raise IndexCorrupt(f"{self.path} is not a readable chunk store ({e}); rebuild with `make index`") from None
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            if not self.readonly:
                fd = os.open(self.path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    # -- writing
    def put_document(self, doc: Document, sections: list[Section], chunks: list[Chunk],
                     embed_texts: list[str], embed_hashes: list[str], tokens: list[list[str]]) -> list[int]:
        """Insert a document and its chunks; returns the chunks' integer ids."""
        conn = self._conn()
        n_duties = sum(len(c.duties) for c in chunks)
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO documents VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc.doc_id, doc.path, doc.source_hash, doc.encoding, doc.format, doc.text,
                 _json(doc.meta.to_dict()),
                 _json([[list(s.path), s.level, s.heading, s.start, s.end, s.body_start] for s in sections]),
                 _json(doc.pages), len(chunks), n_duties, len(sections)),
            )
            ids = []
            for c, et, eh, tk in zip(chunks, embed_texts, embed_hashes, tokens):
                cur = conn.execute(
                    "INSERT INTO chunks (chunk_id, doc_id, section_path, start, end, text, embed_text, embed_hash,"
                    " tokens, duties, deadlines, targets, page) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (c.chunk_id, c.doc_id, _json(list(c.section_path)), c.start, c.end, c.text, et, eh,
                     " ".join(tk), _json([d.to_dict() for d in c.duties]), _json(c.deadlines),
                     _json(c.targets), c.page),
                )
                ids.append(int(cur.lastrowid))
                c.id = ids[-1]
            if self.term_df:
                self._count_terms(conn, tokens, +1)
        return ids

    @staticmethod
    def _count_terms(conn, token_lists, sign: int) -> None:
        from collections import Counter

        df: Counter = Counter()
        for toks in token_lists:
            df.update(set(toks))
        if sign > 0:
            conn.executemany("INSERT INTO terms VALUES (?,?) ON CONFLICT(term) DO UPDATE SET df=df+excluded.df",
                             df.items())
        else:
            conn.executemany("UPDATE terms SET df=df-? WHERE term=?", [(n, t) for t, n in df.items()])
            conn.execute("DELETE FROM terms WHERE df<=0")

    def delete_document(self, doc_id: str) -> list[int]:
        conn = self._conn()
        with conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
            if self.term_df:
                toks = [t.split(" ") if t else [] for (t,) in conn.execute("SELECT tokens FROM chunks WHERE doc_id=?",
                                                                           (doc_id,))]
                self._count_terms(conn, toks, -1)
            conn.execute("DELETE FROM chunks WHERE doc_id=?", (doc_id,))
            conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
        return ids

    def vacuum(self) -> None:
        self._conn().execute("VACUUM")

    def free_fraction(self) -> float:
        """Share of the file's pages that deletions left unused (VACUUM only pays above ~25 %)."""
        conn = self._conn()
        pages = conn.execute("PRAGMA page_count").fetchone()[0] or 1
        return conn.execute("PRAGMA freelist_count").fetchone()[0] / pages

    # -- reading
    def _chunk(self, row) -> Chunk:
        (id_, chunk_id, doc_id, path, start, end, text, duties, deadlines, targets, page) = row
        return Chunk(
            chunk_id=chunk_id, doc_id=doc_id, section_path=tuple(json.loads(path)), text=text,
            start=start, end=end, duties=[_duty_from(d) for d in json.loads(duties)],
            deadlines=json.loads(deadlines), targets=json.loads(targets), page=page, id=id_,
        )

    _CHUNK_COLS = "id, chunk_id, doc_id, section_path, start, end, text, duties, deadlines, targets, page"

    def get_chunks(self, ids: Iterable[int]) -> list[Chunk]:
        """Chunks by integer id, in the order asked (missing ids are skipped)."""
        ids = [int(i) for i in ids]
        if not ids:
            return []
        out: dict[int, Chunk] = {}
        conn = self._conn()
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            q = f"SELECT {self._CHUNK_COLS} FROM chunks WHERE id IN ({','.join('?' * len(part))})"
            for row in conn.execute(q, part):
                out[row[0]] = self._chunk(row)
        return [out[i] for i in ids if i in out]

    def doc_chunks(self, doc_id: str) -> list[Chunk]:
        q = f"SELECT {self._CHUNK_COLS} FROM chunks WHERE doc_id=? ORDER BY start"
        return [self._chunk(r) for r in self._conn().execute(q, (doc_id,))]

    def iter_chunks(self, batch: int = 2000) -> Iterator[Chunk]:
        last = -1
        while True:
            q = f"SELECT {self._CHUNK_COLS} FROM chunks WHERE id>? ORDER BY id LIMIT ?"
            rows = self._conn().execute(q, (last, batch)).fetchall()
            if not rows:
                return
            for r in rows:
                yield self._chunk(r)
            last = rows[-1][0]

    def chunk_ids(self, doc_ids: Iterable[str] | None = None) -> list[int]:
        conn = self._conn()
        if doc_ids is None:
            return [r[0] for r in conn.execute("SELECT id FROM chunks ORDER BY id")]
        doc_ids = list(doc_ids)
        if not doc_ids:
            return []
        q = f"SELECT id FROM chunks WHERE doc_id IN ({','.join('?' * len(doc_ids))}) ORDER BY id"
        return [r[0] for r in conn.execute(q, doc_ids)]

    def tokens_and_ids(self) -> tuple[list[list[str]], list[int]]:
        toks, ids = [], []
        for id_, t in self._conn().execute("SELECT id, tokens FROM chunks ORDER BY id"):
            ids.append(id_)
            toks.append(t.split(" ") if t else [])
        return toks, ids

    def iter_tokens(self, batch: int = 5000) -> Iterator[tuple[list[int], list[list[str]]]]:
        """(ids, token lists) in batches, ascending ids: what a lexical rebuild streams
        (a million chunks' token lists never sit in memory at once)."""
        last = -1
        conn = self._conn()
        while True:
            rows = conn.execute("SELECT id, tokens FROM chunks WHERE id>? ORDER BY id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield [r[0] for r in rows], [r[1].split(" ") if r[1] else [] for r in rows]
            last = rows[-1][0]

    def embed_rows(self, ids: Iterable[int] | None = None) -> list[tuple[int, str, str]]:
        """(id, embed_text, embed_hash) rows."""
        conn = self._conn()
        if ids is None:
            return list(conn.execute("SELECT id, embed_text, embed_hash FROM chunks ORDER BY id"))
        ids = list(ids)
        out = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            out += conn.execute(f"SELECT id, embed_text, embed_hash FROM chunks WHERE id IN ({','.join('?' * len(part))})", part).fetchall()
        return out

    def documents(self) -> list[DocRecord]:
        # the outline JSON is not parsed (its length is stored): with tens of thousands of
        # documents parsing every outline costs seconds
        rows = self._conn().execute(
            "SELECT doc_id, path, sha256, meta, n_chunks, n_duties,"
            f" {self._n_sections_sql()}, encoding, format FROM documents ORDER BY doc_id")
        return [
            DocRecord(r[0], r[1], r[2], DocMeta(**json.loads(r[3])), r[4], r[5], r[6] or 0, r[7] or "", r[8] or "")
            for r in rows
        ]

    def _n_sections_sql(self) -> str:
        cols = {r[1] for r in self._conn().execute("PRAGMA table_info(documents)")}
        return "n_sections" if "n_sections" in cols else "json_array_length(sections)"

    def doc_ids(self) -> list[str]:
        return [r[0] for r in self._conn().execute("SELECT doc_id FROM documents ORDER BY doc_id")]

    def document(self, doc_id: str) -> Document | None:
        row = self._conn().execute(
            "SELECT doc_id, path, text, meta, sha256, encoding, format, pages FROM documents WHERE doc_id=?",
            (doc_id,)).fetchone()
        if row is None:
            return None
        return Document(doc_id=row[0], path=row[1], text=row[2], meta=DocMeta(**json.loads(row[3])),
                        source_hash=row[4], encoding=row[5] or "", format=row[6] or "",
                        pages=[tuple(p) for p in json.loads(row[7])])

    def sections(self, doc_id: str) -> list[Section]:
        row = self._conn().execute("SELECT sections FROM documents WHERE doc_id=?", (doc_id,)).fetchone()
        if row is None:
            return []
        return [Section(tuple(p), lv, h, s, e, b) for p, lv, h, s, e, b in json.loads(row[0])]

    def count_chunks(self) -> int:
        if self.readonly and self._count is not None:  # an opened version never changes
            return self._count
        n = int(self._conn().execute("SELECT count(*) FROM chunks").fetchone()[0])
        if self.readonly:
            self._count = n
        return n

    def doc_freq(self, tokens: list[str]) -> dict[str, int]:
        """How many chunks contain each token, from the `terms` table (stores written with
        `term_df`); 0 for unknown tokens."""
        out = {t: 0 for t in tokens}
        keys = list(out)
        conn = self._conn()
        try:
            for i in range(0, len(keys), 500):
                part = keys[i:i + 500]
                for t, n in conn.execute(f"SELECT term, df FROM terms WHERE term IN ({','.join('?' * len(part))})", part):
                    out[t] = int(n)
        except sqlite3.OperationalError as e:  # no such table: written without term_df
            raise IndexCorrupt(f"{self.path} has no token frequencies ({e}); rebuild with `make index`") from None
        return out
