"""Document loading: a file's bytes → raw text.

This stage only gets the words out of the container (and out of the page chrome of web
pages and PDFs); it does not clean them. Traditional→simplified conversion, pinyin gloss
removal and the like belong to the cleaning stage that runs next.

    load_file(path) -> Loaded        # .txt .md .html .htm .docx .pdf
    decode_bytes(data) -> (text, encoding)

Every failure (missing, unreadable, corrupt, encrypted, unsupported, not text) raises
`LoadError` with a one-line message naming the file. Heavy backends (python-docx, pypdf,
BeautifulSoup, charset-normalizer) are imported inside the functions that need them.

Text of every format is normalised the same way: line endings become "\n" (so is any
other line separator: \f, \v, U+0085, U+2028, U+2029), and the remaining control
characters except "\t" are removed: "\n" is the only line boundary left.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import LoadError
from rag.ingest.load.docx import docx_to_text
from rag.ingest.load.encoding import (
    decode_bytes,
    normalize_text,
    one_line,
)
from rag.ingest.load.html import _declared_charset, html_to_text_and_hints
from rag.ingest.load.markdown import strip_markdown
from rag.ingest.load.pdf import pdf_pages, pdf_to_text

SUPPORTED = (".txt", ".md", ".html", ".htm", ".docx", ".pdf")

NO_TEXT_LAYER = "no text layer (scanned PDF?)"


@dataclass
class Loaded:
    text: str  # the document text, paragraphs separated by "\n"
    format: str  # "txt" | "md" | "html" | "docx" | "pdf"
    encoding: str  # detected encoding for text formats, "" for binary formats
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # PDF: (start, end, page_no)
    skipped: str | None = None  # why the file yields no usable text (text is "" then)
    # What the container says about the document besides its text (HTML: "html_title", "h1",
    # "article_title", "pub_date" from <meta>, and "page_text", the whole page as text, where
    # header tables and dates outside the article live). The metadata stage reads them.
    hints: dict[str, str] = field(default_factory=dict)


def load_file(path: str | Path) -> Loaded:
    """Load one document. Raises LoadError (one-line message naming the file)."""
    p = Path(path)
    ext = p.suffix.lower()
    try:
        if not p.exists():
            raise LoadError("no such file")
        if p.is_dir():
            raise LoadError("is a directory, not a file")
        if ext not in SUPPORTED:
            raise LoadError(f"unsupported file type {ext or '(no extension)'} (supported: {' '.join(SUPPORTED)})")
        try:
            data = p.read_bytes()
        except PermissionError:
            raise LoadError("permission denied") from None
        except OSError as e:
            raise LoadError(f"cannot read ({e.strerror or one_line(e)})") from None
        return _load_bytes(data, ext)
    except LoadError as e:
        raise LoadError(e.reason, p) from None
    except PermissionError:  # e.g. a folder on the way that cannot be searched
        raise LoadError("permission denied", p) from None
    except Exception as e:  # a parser's own failure: never a traceback from the loader
        kind = ext.lstrip(".") or "file"
        raise LoadError(f"corrupt or unreadable {kind} ({one_line(e)})", p) from None


def _load_bytes(data: bytes, ext: str) -> Loaded:
    fmt = "html" if ext in (".html", ".htm") else ext.lstrip(".")
    if fmt in ("txt", "md", "html"):
        if not data.strip():
            return Loaded(text="", format=fmt, encoding="utf-8", pages=[], skipped="empty file")
        declared = _declared_charset(data) if fmt == "html" else None
        text, encoding = decode_bytes(data, declared)
        hints: dict[str, str] = {}
        if fmt == "md":
            text = strip_markdown(text)
        elif fmt == "html":
            text, hints = html_to_text_and_hints(text)
        if not text.strip():
            return Loaded(text="", format=fmt, encoding=encoding, pages=[], skipped="no text content")
        return Loaded(text=text, format=fmt, encoding=encoding, pages=[], hints=hints)
    if fmt == "docx":
        import zipfile

        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise LoadError("not a .docx file (not a zip package; an old .doc?)")
        text = normalize_text(docx_to_text(data))
        if not text.strip():
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped="no text content")
        return Loaded(text=text, format=fmt, encoding="", pages=[])
    if fmt == "pdf":
        if b"%PDF" not in data[:1024]:
            raise LoadError("not a PDF file (no %PDF header)")
        page_texts = pdf_pages(data)
        if not page_texts:
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped="PDF has no pages")
        text, spans = pdf_to_text(page_texts)
        if not text.strip():
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped=NO_TEXT_LAYER)
        return Loaded(text=text, format=fmt, encoding="", pages=spans)
    raise LoadError(f"unsupported file type {ext}")
