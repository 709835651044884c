"""The corpus folder: which files belong to it, their ids and their content hashes.

`iter_corpus` lists the supported files (sorted by relative path; hidden files and folders and
Office lock files skipped); `doc_id_for` names a file inside the folder; `file_hash` is what
tells a changed file from an unchanged one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

from rag.errors import LoadError
from rag.ingest.load import SUPPORTED


def doc_id_for(path: Path, root: Path) -> str:
    """The file's path inside the corpus folder, without its extension: '000_7c87922ff907d499'."""
    rel = path.resolve().relative_to(root.resolve())
    return rel.with_suffix("").as_posix()


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def iter_corpus(folder: str | os.PathLike) -> Iterator[Path]:
    """Supported files under `folder` (recursively), sorted by relative path; hidden files
    and folders (name starting with ".") and Office lock files ("~$…") are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise LoadError("not a folder", root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith((".", "~$")) or Path(name).suffix.lower() not in SUPPORTED:
                continue
            full = Path(dirpath) / name
            if full.is_file():
                found.append(full)
    found.sort(key=lambda f: f.relative_to(root).as_posix())
    yield from found
