"""The ingest's fingerprint: which code and data turned the files into text, metadata and chunks.

An index keeps the fingerprint of the ingest that processed its documents (the manifest's
`ingest` entry). A file whose bytes did not change is normally kept as it is; after an upgrade
of the cleaning, metadata or chunking code its stored text and chunks are those of the old code,
so a build re-processes every document when the fingerprint differs (vectors of unchanged chunk
texts come from the embedding cache). It is a hash of the code itself (its syntax tree, without
comments and docstrings) and of the data files the ingest reads, so no one has to remember to
bump a number, and a comment or an answer-side change does not re-process a corpus.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

from rag.ingest.chunk import CHUNKER_VERSION

_ROOT = Path(__file__).resolve().parents[1]  # the rag package
# what processing a file reads: the ingest package, the text helpers it imports, the gazetteer
_PARTS = ("ingest", "text/normalize.py", "text/places.py", "text/data", "records.py")
_DATA = {".tsv", ".txt", ".json", ".csv"}


def _code_digest(source: bytes) -> bytes:
    """The syntax tree of a module without its docstrings (comments are not in the tree)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            body[:1] = [] if len(body) > 1 else [ast.Pass()]
    return ast.dump(tree).encode()


@lru_cache(maxsize=1)
def ingest_fingerprint() -> str:
    """CHUNKER_VERSION + a short hash of the ingest's code and data (see the module docstring)."""
    h = hashlib.sha256()
    for part in _PARTS:
        path = _ROOT / part
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if not f.is_file() or "__pycache__" in f.parts or (f.suffix != ".py" and f.suffix not in _DATA):
                continue
            h.update(f.relative_to(_ROOT).as_posix().encode())
            h.update(_code_digest(f.read_bytes()) if f.suffix == ".py" else f.read_bytes())
    return f"{CHUNKER_VERSION}+{h.hexdigest()[:16]}"
