"""The ingest's fingerprint: which code and data turned the files into text, metadata and chunks.

An index keeps the fingerprint of the ingest that processed its documents (in the manifest's
`chunker` entry). A file whose bytes did not change is normally kept as it is; after an upgrade
of the cleaning, metadata or chunking code its stored text and chunks are those of the old code,
so a build re-processes every document when the fingerprint differs (vectors of unchanged chunk
texts come from the embedding cache). It is a hash of the files themselves, so no one has to
remember to bump a number.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from rag.ingest.chunk import CHUNKER_VERSION

_ROOT = Path(__file__).resolve().parents[1]  # the rag package
_PARTS = ("ingest", "text", "records.py")  # what processing a file reads
_SUFFIXES = {".py", ".tsv", ".txt", ".json", ".csv"}


@lru_cache(maxsize=1)
def ingest_fingerprint() -> str:
    h = hashlib.sha256()
    for part in _PARTS:
        path = _ROOT / part
        files = [path] if path.is_file() else sorted(path.rglob("*"))
        for f in files:
            if f.is_file() and f.suffix in _SUFFIXES and "__pycache__" not in f.parts:
                h.update(f.relative_to(_ROOT).as_posix().encode())
                h.update(f.read_bytes())
    return f"{CHUNKER_VERSION}+{h.hexdigest()[:16]}"
