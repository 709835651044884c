"""The milvus search backend: dense vectors and BM25 in Milvus, through `pymilvus`.

The same code talks to milvus-lite (a local file, `uri = "index/milvus.db"`, the default
`<index dir>/milvus.db`: tests and small installs; one process at a time) and to a Milvus
standalone or cluster (`uri = "http://host:19530"`, with `token` and `db_name`).

One collection per build, rows keyed by the chunk ids of the version's SQLite store:

    id INT64 (primary) · doc_id VARCHAR · tokens VARCHAR (analyzer on) → BM25 function → sparse
    dense FLOAT_VECTOR (inner product) · v_from, v_to INT64 (the versions a row belongs to)

- Lexical quality: Milvus gets the project's own tokens (jieba words + character bigrams,
  `rag.text.tokenize`), each encoded into one analyzer-proof word (`encode_token`) and
  space-joined, so its BM25 scores the same terms as the local arrays; k1 and b are set
  explicitly (milvus-lite's default k1 is 1.5). The analyzer is `standard` on milvus-lite
  (its only non-jieba one) and `whitespace` on a server; on encoded tokens both split the
  same way.
- Versions: a full build writes a new collection `<collection>_<version>`, then the alias
  `<collection>` is moved to it (`alter_alias`) before the manifest swap. `add`/`remove` change
  the current collection in place and stamp rows with the sequence numbers of the versions
  that see them (`v_from <= seq < v_to`); a reader searches the collection and sequence
  number of the version it opened, so a question keeps one version even while documents are
  added, removed or a rebuilt collection is swapped in. Rows no kept version sees and
  collections no kept version names are dropped with the old versions.
- Errors: an unreachable server or a milvus-lite file held by another process is one line
  naming the URI (`IndexUnavailable`).
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from rag.config import Config, IndexConfig
from rag.errors import ConfigError, IndexCorrupt, IndexUnavailable

FOREVER = 2 ** 62  # v_to of a row no version has removed
MAX_TOKENS_CHARS = 65_000  # VARCHAR limit (65,535 bytes) with margin; ASCII-escaped below
SCHEMA_VERSION = "milvus-v1"
_PLAIN = re.compile(r"[0-9a-z\u3400-\u9fff]+")
_clients: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


# ---------------------------------------------------------------- tokens

def encode_token(token: str) -> str:
    """One of our tokens as one word every Milvus analyzer keeps whole (`\\w+`, no case, no
    punctuation): a bigram "#两法" → "_两法"; a word with other characters gets each of them
    as "_x<hex>_" ("5.5%" → "5_x2e_5_x25_"). Injective: only escapes and bigrams contain "_",
    and a bigram's second character is CJK, an escape's is "x"."""
    if token.startswith("#") and len(token) == 3 and _PLAIN.fullmatch(token[1:]):
        return "_" + token[1:]
    if _PLAIN.fullmatch(token):
        return token
    return "".join(ch if _PLAIN.fullmatch(ch) else f"_x{ord(ch):x}_" for ch in token)


def token_text(tokens: list[str]) -> str:
    """The tokens field of a row (or a query): encoded tokens joined by spaces."""
    text = " ".join(encode_token(t) for t in tokens if t)
    if len(text.encode("utf-8")) > MAX_TOKENS_CHARS:  # a huge chunk: keep what fits
        text = text.encode("utf-8")[:MAX_TOKENS_CHARS].decode("utf-8", "ignore").rsplit(" ", 1)[0]
    return text


# ---------------------------------------------------------------- connection

def is_lite(uri: str) -> bool:
    return not re.match(r"^(https?|tcp|grpc|unix)://", uri)


def resolve_uri(cfg: IndexConfig, index_dir: Path, resolve=None) -> str:
    """The configured URI; empty = milvus-lite beside the index folder."""
    uri = (cfg.uri or "").strip()
    if not uri:
        return str(Path(index_dir) / "milvus.db")
    if is_lite(uri) and resolve is not None:
        return str(resolve(uri))
    return uri


def _pymilvus():
    try:
        import pymilvus
    except ImportError:
        raise ConfigError("[index] backend = \"milvus\" needs pymilvus and milvus-lite: "
                          "pip install -e '.[milvus]'") from None
    return pymilvus


def connect(uri: str, token: str = "", db_name: str = "", timeout: float = 10.0):
    """A MilvusClient for `uri`, shared by the process (thread-safe; milvus-lite serves one
    file per process). Failures are one line naming the URI."""
    key = (uri, token, db_name)
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            return client
        pm = _pymilvus()
        _quiet()
        kwargs: dict[str, Any] = {"uri": uri, "timeout": timeout}
        if token:
            kwargs["token"] = token
        if db_name:
            kwargs["db_name"] = db_name
        if is_lite(uri):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = pm.MilvusClient(**kwargs)
        except Exception as e:  # pymilvus raises MilvusException / ConnectionConfigException
            raise unavailable(uri, e) from None
        _clients[key] = client
        return client


def _quiet() -> None:
    """pymilvus logs every failed call with a traceback, and milvus-lite's in-process gRPC
    server logs the calls it does not implement (AllocTimestamp, which create_index polls):
    our errors are one line each (RAG_DEBUG=1 keeps their logs)."""
    import logging
    import os

    if not os.environ.get("RAG_DEBUG"):
        for name in ("pymilvus", "grpc._server"):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def unavailable(uri: str, e: BaseException) -> IndexUnavailable:
    msg = getattr(e, "message", None) or str(e) or type(e).__name__
    msg = " ".join(str(msg).split())[:200]
    if is_lite(uri):
        hint = ("milvus-lite serves a file to one process at a time: stop the other process using it "
                "(the app or a build), or use a Milvus server ([index] uri = \"http://host:19530\")")
        return IndexUnavailable(f"cannot open the milvus-lite file {uri} ({msg}); {hint}")
    return IndexUnavailable(f"cannot reach Milvus at {uri} ({msg}); start the server or set [index] uri "
                            "(RAG_INDEX_URI)")


def forget_client(uri: str) -> None:
    """Close and forget the clients of `uri` (tests reopen files; the app never needs it)."""
    with _clients_lock:
        for key in [k for k in _clients if k[0] == uri]:
            client = _clients.pop(key)
            try:
                client.close()
            except Exception:
                pass
    if is_lite(uri):
        try:
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(str(Path(uri).resolve()))
        except Exception:
            pass


def _call(uri: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except IndexUnavailable:
        raise
    except Exception as e:
        if type(e).__module__.startswith(("pymilvus", "grpc", "milvus_lite")):
            raise unavailable(uri, e) from None
        raise


def collection_name(prefix: str, version: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]", "_", f"{prefix}_{version}")


def _filter(seq: int, docs: Iterable[str] | None) -> str:
    f = f"v_from <= {int(seq)} and v_to > {int(seq)}"
    if docs is not None:
        f += f" and doc_id in {json.dumps(sorted(docs), ensure_ascii=False)}"
    return f


# ---------------------------------------------------------------- reading

class MilvusBackend:
    """The search side of one version: its collection and sequence number."""

    name = "milvus"
    bigrams = True
    remote = True  # searches are network calls: the retriever overlaps the lexical one with embedding

    def __init__(self, client, uri: str, collection: str, seq: int, store, info: dict):
        self.client, self.uri, self.collection, self.seq, self.store, self.info = client, uri, collection, seq, store, info

    @classmethod
    def open(cls, layout, manifest: dict, store, cfg: Config | None) -> "MilvusBackend":
        info = manifest.get("backend") or {}
        icfg = cfg.index if cfg is not None else IndexConfig()
        if (icfg.uri or "").strip():  # the configuration names the server (it may have moved)
            uri = resolve_uri(icfg, layout.root, cfg.resolve if cfg is not None else None)
        elif info.get("in_folder", True):  # milvus-lite in the index folder (wherever the folder is now)
            uri = resolve_uri(icfg, layout.root)
        else:  # the server the version was built on
            uri = info.get("uri") or resolve_uri(icfg, layout.root)
        client = connect(uri, icfg.token, icfg.db_name or info.get("db_name", ""), icfg.milvus_timeout)
        name = info.get("collection")
        if not name:
            raise IndexCorrupt(f"the manifest of {manifest.get('version')} names no Milvus collection; "
                               "rebuild with `make index`")
        if not _call(uri, client.has_collection, name):
            raise IndexCorrupt(f"Milvus at {uri} has no collection {name} (version {manifest.get('version')}); "
                               "rebuild with `make index`")
        _call(uri, client.load_collection, name)
        return cls(client, uri, name, int(info.get("seq", 1)), store, info)

    def _search(self, data, field: str, metric: str, k: int, docs) -> list:
        if k <= 0:
            return []
        res = _call(self.uri, self.client.search, self.collection, data=[data], anns_field=field, limit=int(k),
                    filter=_filter(self.seq, docs), output_fields=["id"], search_params={"metric_type": metric})
        return list(res[0]) if res else []

    def search_dense(self, query_vec, k, docs=None):
        if docs is not None and not docs:
            return []
        hits = self._search(np.asarray(query_vec, dtype=np.float32).tolist(), "dense", "IP", k, docs)
        return [(int(h["id"]), float(h["distance"])) for h in hits]

    def search_lexical(self, tokens, k, docs=None):
        text = token_text(tokens)
        if not text or (docs is not None and not docs):
            return []
        hits = self._search(text, "sparse", "BM25", k, docs)
        # milvus-lite reports BM25 as a distance (−score), a server as the score itself
        out = [(int(h["id"]), abs(float(h["distance"]))) for h in hits]
        return [(i, s) for i, s in out if s > 0]

    def doc_freq(self, tokens):
        return self.store.doc_freq(tokens)

    def count(self) -> int:
        return self.store.count_chunks()

    def count_rows(self) -> int:
        """Rows this version sees in Milvus (a consistency check against the store)."""
        res = _call(self.uri, self.client.query, self.collection, filter=_filter(self.seq, None),
                    output_fields=["count(*)"])
        return int(res[0]["count(*)"]) if res else 0

    def describe(self) -> dict:
        return {"name": "milvus", "uri": self.uri, "collection": self.collection, "seq": self.seq,
                "alias": self.info.get("alias")}

    def close(self) -> None:
        pass


# ---------------------------------------------------------------- writing

class MilvusWriter:
    """Writes one new version into Milvus: a new collection for a full build, or the base
    version's collection with a new sequence number for `add`/`remove`."""

    def __init__(self, cfg: Config, layout, version: str, base: dict | None, dim_fn):
        self.cfg, self.layout, self.version = cfg, layout, version
        icfg = cfg.index
        self.uri = resolve_uri(icfg, layout.root, cfg.resolve)
        self.client = connect(self.uri, icfg.token, icfg.db_name, icfg.milvus_timeout)
        self.alias = icfg.collection
        self.lite = is_lite(self.uri)
        kind = (icfg.milvus_dense_index or "auto").strip()
        self.dense_index = ("FLAT" if self.lite else "AUTOINDEX") if kind.lower() == "auto" else kind.upper()
        self._dim_fn = dim_fn
        self.created = False
        self.added: list[int] = []
        self.removed: list[int] = []
        self.in_folder = not (icfg.uri or "").strip()
        binfo = (base or {}).get("backend") or {}
        if (base is not None and binfo.get("name") == "milvus" and self._same_server(binfo)
                and binfo.get("alias") == self.alias
                and _call(self.uri, self.client.has_collection, binfo.get("collection", ""))):
            self.collection = binfo["collection"]
            self.base_seq = int(binfo.get("seq", 1))
            self.seq = self.base_seq + 1
            self.dim = int(binfo.get("dim", 0)) or None
            _call(self.uri, self.client.load_collection, self.collection)
            self._undo_unpublished()
        elif base is not None:  # the builder copied the base's store: its rows must be in Milvus too
            raise IndexCorrupt(f"its Milvus collection {binfo.get('collection') or '(none)'} is not on {self.uri}")
        else:
            self.collection = collection_name(self.alias, version)
            self.base_seq, self.seq, self.dim = None, 1, None

    def _same_server(self, info: dict) -> bool:
        return bool(info.get("in_folder")) if self.in_folder else info.get("uri") == self.uri

    @property
    def incremental(self) -> bool:
        return self.base_seq is not None

    def base_count(self) -> int | None:
        if not self.incremental:
            return None
        res = _call(self.uri, self.client.query, self.collection, filter=_filter(self.base_seq, None),
                    output_fields=["count(*)"])
        return int(res[0]["count(*)"]) if res else 0

    def _undo_unpublished(self) -> None:
        """What a crashed update left in the collection (rows of a sequence number no manifest
        names): its inserts go, its removals are restored."""
        c, s = self.collection, self.base_seq
        _call(self.uri, self.client.delete, c, filter=f"v_from > {s}")
        rows = _call(self.uri, self.client.query, c, filter=f"v_to > {s} and v_to < {FOREVER}",
                     output_fields=["id", "doc_id", "tokens", "dense", "v_from", "v_to"])
        if rows:
            _call(self.uri, self.client.upsert, c, [{**self._row(r), "v_to": FOREVER} for r in rows])

    @staticmethod
    def _row(r: dict) -> dict:
        return {"id": int(r["id"]), "doc_id": r["doc_id"], "tokens": r["tokens"],
                "dense": [float(x) for x in r["dense"]], "v_from": int(r["v_from"]), "v_to": int(r["v_to"])}

    def _create(self, dim: int) -> None:
        pm = _pymilvus()
        dt = pm.DataType
        c = self.client
        analyzer = {"tokenizer": "standard"} if self.lite else {"tokenizer": "whitespace"}
        schema = c.create_schema(auto_id=False, enable_dynamic_field=False, description=SCHEMA_VERSION)
        schema.add_field("id", dt.INT64, is_primary=True)
        schema.add_field("doc_id", dt.VARCHAR, max_length=1024)
        schema.add_field("tokens", dt.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=analyzer)
        schema.add_field("sparse", dt.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", dt.FLOAT_VECTOR, dim=int(dim))
        schema.add_field("v_from", dt.INT64)
        schema.add_field("v_to", dt.INT64)
        schema.add_function(pm.Function(name="bm25", function_type=pm.FunctionType.BM25,
                                        input_field_names=["tokens"], output_field_names=["sparse"]))
        ip = c.prepare_index_params()
        ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"bm25_k1": float(self.cfg.index.bm25_k1), "bm25_b": float(self.cfg.index.bm25_b)})
        ip.add_index("dense", index_type=self.dense_index, metric_type="IP")
        if _call(self.uri, c.has_collection, self.collection):  # a leftover of a crashed build of this name
            _call(self.uri, c.drop_collection, self.collection)
        _call(self.uri, c.create_collection, self.collection, schema=schema, index_params=ip,
              consistency_level="Strong")
        self.created = True
        self.dim = int(dim)

    # -- BackendWriter
    def remove(self, chunk_ids) -> None:
        ids = [int(i) for i in chunk_ids]
        if not ids or not self.incremental:
            return
        for i in range(0, len(ids), 1000):
            part = ids[i:i + 1000]
            rows = _call(self.uri, self.client.query, self.collection,
                         filter=f"id in {part} and v_to > {self.base_seq}",
                         output_fields=["id", "doc_id", "tokens", "dense", "v_from", "v_to"])
            if rows:  # rows older versions still see stay until those versions are collected
                _call(self.uri, self.client.upsert, self.collection, [{**self._row(r), "v_to": self.seq} for r in rows])
        self.removed += ids

    def add(self, ids, vectors, tokens, doc_ids=None) -> None:
        if len(ids) == 0:
            return
        vecs = np.asarray(vectors, dtype=np.float32)
        if not self.created and not self.incremental:
            self._create(vecs.shape[1])
        if self.dim is not None and vecs.shape[1] != self.dim:
            raise IndexCorrupt(f"vectors of dimension {vecs.shape[1]} for a Milvus collection of dimension {self.dim}")
        rows = [{"id": int(i), "doc_id": d, "tokens": token_text(t), "dense": v.tolist(), "v_from": self.seq,
                 "v_to": FOREVER} for i, d, t, v in zip(ids, doc_ids, tokens, vecs)]
        for s in range(0, len(rows), 1000):
            _call(self.uri, self.client.insert, self.collection, rows[s:s + 1000])
        self.added += [int(i) for i in ids]

    def finish(self) -> dict:
        if not self.created and not self.incremental:  # an index without chunks still has a collection
            self._create(self._dim_fn())
        _call(self.uri, self.client.flush, self.collection)
        _call(self.uri, self.client.load_collection, self.collection)
        info = {"name": "milvus", "uri": self.uri, "in_folder": self.in_folder, "db_name": self.cfg.index.db_name, "alias": self.alias,
                "collection": self.collection, "seq": self.seq, "dim": self.dim, "schema": SCHEMA_VERSION,
                "analyzer": "standard" if self.lite else "whitespace",
                "bm25": {"k1": float(self.cfg.index.bm25_k1), "b": float(self.cfg.index.bm25_b)},
                "dense_index": self.dense_index, "engine": "milvus-lite" if self.lite else "milvus"}
        return info

    def publish(self, manifest: dict) -> None:
        """Point the alias at this version's collection (readers of older versions keep the
        collection their manifest names)."""
        c = self.client
        current = None
        if self.alias in (_call(self.uri, c.list_aliases) or {}).get("aliases", []):
            current = _call(self.uri, c.describe_alias, self.alias).get("collection_name")
        if current == self.collection:
            return
        if current is None:
            _call(self.uri, c.create_alias, self.collection, self.alias)
        else:
            _call(self.uri, c.alter_alias, self.collection, self.alias)

    def abort(self) -> None:
        """Undo a failed update: a new collection is dropped; in place, the new sequence
        number's inserts are deleted and its removals restored."""
        try:
            if self.created:
                _call(self.uri, self.client.drop_collection, self.collection)
            elif self.incremental:
                self._undo_unpublished()
        except Exception:
            pass  # the next update undoes it too (`_undo_unpublished`)

    def drop(self, kept: list[dict]) -> None:
        """After garbage collection: drop the collections of this alias no kept version names,
        and the rows of the current collection no kept version sees."""
        named: dict[str, int] = {}
        for m in kept:
            b = m.get("backend") or {}
            if b.get("name") == "milvus" and self._same_server(b) and b.get("collection"):
                named[b["collection"]] = min(named.get(b["collection"], FOREVER), int(b.get("seq", 1)))
        prefix = collection_name(self.alias, "v")
        for name in _call(self.uri, self.client.list_collections):
            if name.startswith(prefix) and name not in named and name != self.collection:
                _call(self.uri, self.client.drop_collection, name)
        oldest = named.get(self.collection)
        if oldest is not None:
            _call(self.uri, self.client.delete, self.collection, filter=f"v_to <= {oldest}")
