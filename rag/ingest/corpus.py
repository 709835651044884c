"""The corpus folder: which files belong to it, their ids and their content hashes.

`iter_corpus` lists the supported files (sorted by relative path; hidden files and folders and
Office lock files skipped); `doc_id_for` names a file inside the folder: its relative path WITH
its extension, so that plan.txt and plan.md are two documents, never one overwriting the other;
`check_member` refuses what must not be read as part of the corpus (a link to a file elsewhere:
a symbolic link resolving outside the folder, or a hard link); `file_hash` is what tells a
changed file from an unchanged one.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterator

from rag.errors import LoadError
from rag.ingest.load import SUPPORTED


def doc_id_for(path: Path, root: Path) -> str:
    """The file's path inside the corpus folder, extension included: '000_7c87922ff907d499.txt'.
    ValueError when the file (links resolved) is outside the folder."""
    rel = Path(path).resolve().relative_to(Path(root).resolve())
    return rel.as_posix()


def check_member(path: Path, root: Path) -> str:
    """The doc_id of a corpus file, after refusing (LoadError, one line) a file that is really
    elsewhere: a symbolic link resolving outside the folder, or a file with more than one hard
    link (`ln ../private/secret.txt corpus/leak.txt` would otherwise serve a private file)."""
    path = Path(path)
    try:
        doc_id = doc_id_for(path, root)
    except ValueError:
        raise LoadError(f"is a link to a file outside the corpus folder {root}", path) from None
    try:
        st = path.stat()
    except OSError as e:
        raise LoadError(f"cannot read ({e.strerror or e})", path) from None
    if st.st_nlink > 1:
        raise LoadError(f"has {st.st_nlink} hard links: a corpus file must not be a link to a file elsewhere; "
                        "copy it into the corpus folder instead", path)
    return doc_id


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
