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
# A segmented version (see `rag.index.layout`): the shared base store stays untouched; the
# delta store holds the documents added since, and which base rows are gone (tombstones).
DELTA_TABLES = """
CREATE TABLE IF NOT EXISTS dead_docs (doc_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_chunks (id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS seg (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
"""
DOC_COLS = "doc_id, path, sha256, encoding, format, text, meta, sections, pages, n_chunks, n_duties, n_sections"
CHUNK_COLS = ("id, chunk_id, doc_id, section_path, start, end, text, embed_text, embed_hash, tokens, duties,"
              " deadlines, targets, page")


def _schema_in(schema: str) -> str:
    """SCHEMA + LIST_INDEX with every table and index created in `schema`."""
    sql = SCHEMA + LIST_INDEX
    sql = sql.replace("CREATE TABLE IF NOT EXISTS ", f"CREATE TABLE IF NOT EXISTS {schema}.")
    return sql.replace("CREATE INDEX IF NOT EXISTS ", f"CREATE INDEX IF NOT EXISTS {schema}.")


def _union_views(base_has_n_sections: bool) -> str:
    """TEMP views named like the tables: unqualified names resolve to the temp schema first, so
    every query of the store reads base − tombstones + delta unchanged."""
    n_sections = "n_sections" if base_has_n_sections else "json_array_length(sections) AS n_sections"
    base_docs = DOC_COLS.replace("n_sections", n_sections)
    return f"""
CREATE TEMP VIEW IF NOT EXISTS documents AS
    SELECT {base_docs} FROM main.documents WHERE doc_id NOT IN (SELECT doc_id FROM delta.dead_docs)
    UNION ALL SELECT {DOC_COLS} FROM delta.documents;
CREATE TEMP VIEW IF NOT EXISTS chunks AS
    SELECT {CHUNK_COLS} FROM main.chunks WHERE id NOT IN (SELECT id FROM delta.dead_chunks)
    UNION ALL SELECT {CHUNK_COLS} FROM delta.chunks;
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

    def __init__(self, path: Path, readonly: bool = True, term_df: bool = False, delta: Path | None = None):
        """`delta`: a segmented version's delta store; `path` is then the shared base, opened
        read-only and immutable even by a writer (writes go to the delta)."""
        self.path = Path(path)
        self.delta = Path(delta) if delta is not None else None
        self.readonly = readonly
        self.term_df = term_df  # keep the `terms` table (chunk frequency per token) up to date
        if self.delta is not None and term_df:
            raise ValueError("a segmented store keeps no token frequencies (milvus stores are not segmented)")
        self._w = "delta." if self.delta is not None else ""  # where writes go
        self._count: int | None = None
        self._seg: dict[str, int] = {}
        self._local = threading.local()
        if readonly and not self.path.exists():
            raise IndexCorrupt(f"{self.path} is missing; rebuild with `make index`")
        if self.delta is not None and readonly and not self.delta.exists():
            raise IndexCorrupt(f"{self.delta} is missing; rebuild with `make index`")
        if not readonly and self.delta is None and self.path.exists() and os.stat(self.path).st_nlink > 1:
            # a hard-linked base shared with other versions: writing it would change them all
            raise RuntimeError(f"{self.path} is shared with other index versions and must not be written")
        self._conn()  # fail early on a broken file

    @property
    def segmented(self) -> bool:
        return self.delta is not None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                if self.delta is not None:
                    conn = self._open_segmented()
                elif self.readonly:
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
                what = self.path if self.delta is None else f"{self.path} + {self.delta.name}"
                raise IndexCorrupt(f"{what} is not a readable chunk store ({e}); rebuild with `make index`") from None
            self._local.conn = conn
        return conn

    def _open_segmented(self) -> sqlite3.Connection:
        """The base (immutable) as `main`, the delta attached as `delta`, TEMP views over both."""
        from urllib.parse import quote

        conn = sqlite3.connect(f"file:{quote(str(self.path))}?mode=ro&immutable=1", uri=True, check_same_thread=False)
        if self.readonly:
            conn.execute("ATTACH DATABASE ? AS delta", (f"file:{quote(str(self.delta))}?mode=ro&immutable=1",))
        else:
            conn.execute("ATTACH DATABASE ? AS delta", (f"file:{quote(str(self.delta))}",))
            conn.execute("PRAGMA delta.journal_mode=MEMORY")  # a build's private file, as above
            conn.execute("PRAGMA delta.synchronous=OFF")
            fresh = conn.execute("SELECT count(*) FROM delta.sqlite_master").fetchone()[0] == 0
            conn.executescript(_schema_in("delta") + DELTA_TABLES.replace("EXISTS ", "EXISTS delta."))
            if fresh:  # a new delta over this base: its ids continue after the base's
                seq = conn.execute("SELECT max(coalesce((SELECT seq FROM main.sqlite_sequence WHERE name='chunks'), 0),"
                                   " coalesce((SELECT max(id) FROM main.chunks), 0))").fetchone()[0]
                n = conn.execute("SELECT count(*) FROM main.chunks").fetchone()[0]
                with conn:
                    conn.execute("INSERT INTO delta.sqlite_sequence (name, seq) VALUES ('chunks', ?)", (seq,))
                    conn.executemany("INSERT INTO delta.seg VALUES (?, ?)", [("base_seq", seq), ("base_chunks", n)])
        self._seg = {k: int(v) for k, v in conn.execute("SELECT key, value FROM delta.seg")}
        if "base_seq" not in self._seg or "base_chunks" not in self._seg:
            raise sqlite3.DatabaseError("the delta store has no base counts")
        cols = {r[1] for r in conn.execute("PRAGMA main.table_info(documents)")}
        conn.executescript(_union_views("n_sections" in cols))
        return conn

    # -- segments (a segmented version: base − tombstones + delta)
    @property
    def base_seq(self) -> int:
        """Chunk ids up to this are the base's; larger ones the delta's."""
        self._conn()
        return self._seg["base_seq"]

    def segment_counts(self) -> dict:
        """base_chunks, delta_chunks, tombstones (chunks of the base no longer live)."""
        conn = self._conn()
        return {"base_chunks": self._seg["base_chunks"],
                "delta_chunks": int(conn.execute("SELECT count(*) FROM delta.chunks").fetchone()[0]),
                "tombstones": int(conn.execute("SELECT count(*) FROM delta.dead_chunks").fetchone()[0])}

    def dead_chunk_ids(self) -> list[int]:
        return [r[0] for r in self._conn().execute("SELECT id FROM delta.dead_chunks ORDER BY id")]

    def delta_chunk_ids(self) -> list[int]:
        return [r[0] for r in self._conn().execute("SELECT id FROM delta.chunks ORDER BY id")]

    def iter_segment_tokens(self, which: str, batch: int = 5000) -> Iterator[tuple[list[int], list[list[str]]]]:
        """(ids, token lists), ascending ids, of the delta's chunks ("delta") or of the base's
        tombstoned chunks ("dead"): what a segment's lexical arrays are built from."""
        conn = self._conn()
        if which == "delta":
            q = "SELECT id, tokens FROM delta.chunks WHERE id>? ORDER BY id LIMIT ?"
        else:
            q = ("SELECT c.id, c.tokens FROM delta.dead_chunks d JOIN main.chunks c ON c.id = d.id"
                 " WHERE d.id>? ORDER BY d.id LIMIT ?")
        last = -1
        while True:
            rows = conn.execute(q, (last, batch)).fetchall()
            if not rows:
                return
            yield [r[0] for r in rows], [r[1].split(" ") if r[1] else [] for r in rows]
            last = rows[-1][0]

    def absorb(self, delta: Path) -> tuple[list[int], list[int]]:
        """Compaction: apply a segmented version's delta store to this (private, plain) copy of
        its base: tombstoned rows deleted, the delta's rows inserted with their ids. Returns
        (tombstoned chunk ids, the delta's chunk ids)."""
        from urllib.parse import quote

        conn = self._conn()
        conn.execute("ATTACH DATABASE ? AS d", (f"file:{quote(str(delta))}?mode=ro&immutable=1",))
        try:
            dead = [r[0] for r in conn.execute("SELECT id FROM d.dead_chunks ORDER BY id")]
            added = [r[0] for r in conn.execute("SELECT id FROM d.chunks ORDER BY id")]
            with conn:
                conn.execute("DELETE FROM main.chunks WHERE id IN (SELECT id FROM d.dead_chunks)")
                conn.execute("DELETE FROM main.documents WHERE doc_id IN (SELECT doc_id FROM d.dead_docs)")
                conn.execute(f"INSERT INTO main.documents ({DOC_COLS}) SELECT {DOC_COLS} FROM d.documents")
                conn.execute(f"INSERT INTO main.chunks ({CHUNK_COLS}) SELECT {CHUNK_COLS} FROM d.chunks")
                # ids never come back after compaction: the sequence continues after the delta's
                conn.execute("UPDATE main.sqlite_sequence SET seq = max(seq, coalesce("
                             "(SELECT seq FROM d.sqlite_sequence WHERE name='chunks'), 0)) WHERE name='chunks'")
        finally:
            conn.execute("DETACH DATABASE d")
        return dead, added

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
            if not self.readonly:
                fd = os.open(self.delta if self.delta is not None else self.path, os.O_RDONLY)
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
                f"INSERT OR REPLACE INTO {self._w}documents ({DOC_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc.doc_id, doc.path, doc.source_hash, doc.encoding, doc.format, doc.text,
                 _json(doc.meta.to_dict()),
                 _json([[list(s.path), s.level, s.heading, s.start, s.end, s.body_start] for s in sections]),
                 _json(doc.pages), len(chunks), n_duties, len(sections)),
            )
            ids = []
            for c, et, eh, tk in zip(chunks, embed_texts, embed_hashes, tokens):
                cur = conn.execute(
                    f"INSERT INTO {self._w}chunks (chunk_id, doc_id, section_path, start, end, text, embed_text, embed_hash,"
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
        """Remove a document; returns its chunks' ids. In a segmented store a document of the
        delta is deleted from it, one of the base is tombstoned (the base never changes)."""
        conn = self._conn()
        if self.delta is not None:
            with conn:
                if conn.execute("SELECT 1 FROM delta.documents WHERE doc_id=?", (doc_id,)).fetchone():
                    ids = [r[0] for r in conn.execute("SELECT id FROM delta.chunks WHERE doc_id=?", (doc_id,))]
                    conn.execute("DELETE FROM delta.chunks WHERE doc_id=?", (doc_id,))
                    conn.execute("DELETE FROM delta.documents WHERE doc_id=?", (doc_id,))
                    return ids
                if not conn.execute("SELECT 1 FROM documents WHERE doc_id=?", (doc_id,)).fetchone():
                    return []
                ids = [r[0] for r in conn.execute("SELECT id FROM main.chunks WHERE doc_id=?", (doc_id,))]
                conn.execute("INSERT OR IGNORE INTO delta.dead_docs VALUES (?)", (doc_id,))
                conn.executemany("INSERT OR IGNORE INTO delta.dead_chunks VALUES (?)", [(i,) for i in ids])
            return ids
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
        if self.delta is not None:  # the delta file alone (the TEMP views confuse VACUUM of an attached schema)
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
                self._local.conn = None
            own = sqlite3.connect(self.delta)
            try:
                own.execute("VACUUM")
            finally:
                own.close()
            return
        self._conn().execute("VACUUM")

    def free_fraction(self) -> float:
        """Share of the file's pages that deletions left unused (VACUUM only pays above ~25 %)."""
        conn = self._conn()
        pages = conn.execute(f"PRAGMA {self._w}page_count").fetchone()[0] or 1
        return conn.execute(f"PRAGMA {self._w}freelist_count").fetchone()[0] / pages

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

    def iter_tokens_of(self, ids: Iterable[int], batch: int = 500) -> Iterator[tuple[list[int], list[list[str]]]]:
        """(ids, token lists) of these chunks, in batches."""
        ids = [int(i) for i in ids]
        conn = self._conn()
        for i in range(0, len(ids), batch):
            part = ids[i:i + batch]
            rows = conn.execute(f"SELECT id, tokens FROM chunks WHERE id IN ({','.join('?' * len(part))}) ORDER BY id",
                                part).fetchall()
            yield [r[0] for r in rows], [r[1].split(" ") if r[1] else [] for r in rows]

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
        if self.delta is not None:  # the base's count is kept: no scan of a million rows
            c = self.segment_counts()
            n = c["base_chunks"] - c["tombstones"] + c["delta_chunks"]
        else:
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
