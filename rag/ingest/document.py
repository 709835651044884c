"""One source file → a clean `Document` with metadata, its outline and its chunks.

load (bytes → text, any format/encoding; page hints such as the HTML <title>) → clean (chrome
and the information-disclosure header out, header fields kept) → metadata (reads the clean
text, the text before chrome removal, the header fields and the page hints) → outline → chunks.
PDF pages are cleaned one by one so that every chunk knows its page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rag.errors import IngestError, LoadError
from rag.ingest.chunk import OutlineChunker
from rag.ingest.clean import clean_document
from rag.ingest.corpus import doc_id_for, file_hash
from rag.ingest.load import DEFAULT_LIMITS, Limits, load_file
from rag.ingest.meta import extract_meta
from rag.ingest.outline import parse_outline
from rag.records import PATH_SEP, UNKNOWN, Chunk, Document, Section
from rag.text.places import get as get_region


@dataclass
class Processed:
    document: Document
    sections: list[Section]
    chunks: list[Chunk]


def _clean_pages(raw: str, pages: list[tuple[int, int, int]]) -> tuple[str, str, list[tuple[int, int, int]], dict]:
    """Clean page by page; returns (text, normalized, page spans in the clean text, header fields)."""
    parts, norms, spans = [], [], []
    header: dict[str, str] = {}
    pos = 0
    for start, end, page_no in pages:
        c = clean_document(raw[start:end])
        for k, v in c.header.items():
            header.setdefault(k, v)
        if not c.text:
            continue
        if parts:
            pos += 1  # the "\n" joining pages
        parts.append(c.text)
        norms.append(c.normalized)
        spans.append((pos, pos + len(c.text), page_no))
        pos += len(c.text)
    return "\n".join(parts), "\n".join(norms), spans, header


def load_document(path: Path, root: Path, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read and clean one file. IngestError when it cannot be read, exceeds `limits` or holds
    no text."""
    try:
        loaded = load_file(path, limits)
    except LoadError as e:
        raise IngestError(str(e)) from None
    if loaded.skipped:
        raise IngestError(f"{path.name}: skipped: {loaded.skipped}")
    if loaded.pages:
        text, normalized, pages, header = _clean_pages(loaded.text, loaded.pages)
    else:
        c = clean_document(loaded.text)
        text, normalized, pages, header = c.text, c.normalized, [], c.header
    if not text.strip():
        raise IngestError(f"{path.name}: no text left after cleaning")
    return Document(
        doc_id=doc_id_for(path, root),
        path=path.resolve().relative_to(root.resolve()).as_posix(),
        text=text,
        meta=extract_meta(text, normalized, header, loaded.hints),
        source_hash=file_hash(path),
        encoding=loaded.encoding,
        format=loaded.format,
        pages=pages,
    )


def page_at(pages: list[tuple[int, int, int]], offset: int) -> int | None:
    for start, end, page_no in pages:
        if start <= offset < end:
            return page_no
    return None


def process(doc: Document, chunker: OutlineChunker) -> Processed:
    sections = parse_outline(doc.text)
    chunks = chunker(doc.doc_id, doc.text, sections)
    if doc.pages:
        for c in chunks:
            c.page = page_at(doc.pages, c.start)
    return Processed(doc, sections, chunks)


def header(doc: Document) -> str:
    """What every chunk of a document is embedded with: its title, and its region when the
    title does not name it (so '利通区…' questions find 利通区 chunks)."""
    m = doc.meta
    title = m.title if m.title != UNKNOWN else doc.doc_id
    region = get_region(m.region) if m.region != UNKNOWN else None
    if region is not None and not any(n in title for n in region.names):
        title = f"{title}({region.name})"
    return title


def lexical_text(doc_header: str, chunk: Chunk) -> str:
    """What the lexical index sees: title, the whole section path and the text (headings carry
    the topic words of the items below them)."""
    path = PATH_SEP.join(chunk.section_path)
    return f"{doc_header}\n{path}\n{chunk.text}" if path else f"{doc_header}\n{chunk.text}"


def embed_text(doc: Document, chunk: Chunk) -> str:
    """What the dense model sees: the place's short name, the nearest titled heading and the
    text. Short on purpose: a long title and path dilute a small model's vector (measured on the
    evaluation set: MRR@10 of dense retrieval 0.68 with title+path, 0.78 with this form)."""
    region = get_region(doc.meta.region) if doc.meta.region != UNKNOWN else None
    place = region.short if region else ""
    heading = next((p for p in reversed(chunk.section_path) if len(p) > 4), "")
    head = " ".join(x for x in (place, heading) if x)
    return f"{head}\n{chunk.text}" if head else chunk.text
