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

import html as std_html  # the stdlib module (the package has a submodule named html)
import io
import re
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


@dataclass(frozen=True)
class Limits:
    """What one file may be, so that a hostile or broken one cannot exhaust memory or time:
    its size on disk, the decompressed size and compression ratio of a .docx's zip members,
    PDF pages, and the characters of its text and of its longest line. Exceeding one is a
    LoadError for that file; the rest of the corpus builds."""

    max_file_bytes: int = 50 * 2**20
    max_unzipped_bytes: int = 100 * 2**20
    max_xml_bytes: int = 40 * 2**20  # of a .docx's XML parts (what the parser holds in memory, many times over)
    max_paragraphs: int = 100_000  # of a .docx (a 1,000-page document has some 20,000)
    max_zip_ratio: float = 200.0
    max_pdf_pages: int = 3000
    max_chars: int = 3_000_000
    max_line_chars: int = 200_000

    @classmethod
    def of(cls, corpus) -> "Limits":
        """The limits of a `[corpus]` configuration section."""
        return cls(max_file_bytes=int(corpus.max_file_mb * 2**20), max_unzipped_bytes=int(corpus.max_unzipped_mb * 2**20),
                   max_pdf_pages=corpus.max_pdf_pages, max_chars=corpus.max_chars, max_line_chars=corpus.max_line_chars)


DEFAULT_LIMITS = Limits()


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def check_zip(data: bytes, limits: Limits) -> None:
    """LoadError for a zip package whose members decompress beyond the limits (a zip bomb)."""
    import zipfile

    total = xml = 0
    package = zipfile.ZipFile(io.BytesIO(data))
    for info in package.infolist():
        total += info.file_size
        if info.filename.endswith(".xml"):
            xml += info.file_size
            if xml > limits.max_xml_bytes:
                raise LoadError(f"its XML decompresses to more than {_mb(limits.max_xml_bytes)}")
        if info.file_size > 2**20 and info.file_size / max(info.compress_size, 1) > limits.max_zip_ratio:
            raise LoadError(f"{info.filename} decompresses {info.file_size / max(info.compress_size, 1):.0f}-fold "
                            f"(more than {limits.max_zip_ratio:g}): refused as a zip bomb")
        if total > limits.max_unzipped_bytes:
            raise LoadError(f"decompresses to more than {_mb(limits.max_unzipped_bytes)} (corpus.max_unzipped_mb)")
    if "word/document.xml" in package.namelist():  # counted as a stream: nothing is built for it
        paragraphs, tail = 0, b""
        with package.open("word/document.xml") as f:
            while block := f.read(1 << 20):
                chunk = tail + block
                paragraphs += chunk.count(b"<w:p>") + chunk.count(b"<w:p ")
                tail = chunk[-5:]
                paragraphs -= tail.count(b"<w:p>") + tail.count(b"<w:p ")  # counted again with the next block
                if paragraphs > limits.max_paragraphs:
                    raise LoadError(f"more than {limits.max_paragraphs:,} paragraphs")


def check_text(text: str, limits: Limits) -> None:
    """LoadError for text beyond the character limits (of the whole and of its longest line)."""
    if len(text) > limits.max_chars:
        raise LoadError(f"{len(text):,} characters, more than the {limits.max_chars:,} allowed (corpus.max_chars)")
    longest = max((len(line) for line in text.split("\n")), default=0)
    if longest > limits.max_line_chars:
        raise LoadError(f"a line of {longest:,} characters, more than the {limits.max_line_chars:,} allowed "
                        "(corpus.max_line_chars)")


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


def load_file(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Loaded:
    """Load one document within `limits`. Raises LoadError (one-line message naming the file)."""
    p = Path(path)
    ext = p.suffix.lower()
    try:
        if not p.exists():
            raise LoadError("no such file")
        if p.is_dir():
            raise LoadError("is a directory, not a file")
        if ext not in SUPPORTED:
            raise LoadError(f"unsupported file type {ext or '(no extension)'} (supported: {' '.join(SUPPORTED)})")
        size = p.stat().st_size
        if size > limits.max_file_bytes:
            raise LoadError(f"{_mb(size)}, larger than the {_mb(limits.max_file_bytes)} allowed (corpus.max_file_mb)")
        try:
            data = p.read_bytes()
        except PermissionError:
            raise LoadError("permission denied") from None
        except OSError as e:
            raise LoadError(f"cannot read ({e.strerror or one_line(e)})") from None
        loaded = _load_bytes(data, ext, limits)
        check_text(loaded.text, limits)
        return loaded
    except LoadError as e:
        raise LoadError(e.reason, p) from None
    except PermissionError:  # e.g. a folder on the way that cannot be searched
        raise LoadError("permission denied", p) from None
    except Exception as e:  # a parser's own failure: never a traceback from the loader
        kind = ext.lstrip(".") or "file"
        raise LoadError(f"corrupt or unreadable {kind} ({one_line(e)})", p) from None


_ENTITY_RE = re.compile(r"&(?:nbsp|gt|lt|amp|quot|ldquo|rdquo|mdash|#\d{2,5});")
ENTITY_MIN = 3  # HTML entities that make a plain-text file a page saved as text


def _load_bytes(data: bytes, ext: str, limits: Limits = DEFAULT_LIMITS) -> Loaded:
    fmt = "html" if ext in (".html", ".htm") else ext.lstrip(".")
    if fmt in ("txt", "md", "html"):
        if not data.strip():
            return Loaded(text="", format=fmt, encoding="utf-8", pages=[], skipped="empty file")
        declared = _declared_charset(data) if fmt == "html" else None
        text, encoding = decode_bytes(data, declared)
        hints: dict[str, str] = {}
        if fmt in ("txt", "md") and len(_ENTITY_RE.findall(text)) >= ENTITY_MIN:
            text = std_html.unescape(text).replace("\xa0", " ")  # a page saved as text with &nbsp; left in
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
        check_zip(data, limits)
        text = normalize_text(docx_to_text(data))
        if not text.strip():
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped="no text content")
        return Loaded(text=text, format=fmt, encoding="", pages=[])
    if fmt == "pdf":
        if b"%PDF" not in data[:1024]:
            raise LoadError("not a PDF file (no %PDF header)")
        page_texts = pdf_pages(data, limits.max_pdf_pages)
        if not page_texts:
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped="PDF has no pages")
        text, spans = pdf_to_text(page_texts)
        if not text.strip():
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped=NO_TEXT_LAYER)
        return Loaded(text=text, format=fmt, encoding="", pages=spans)
    raise LoadError(f"unsupported file type {ext}")
