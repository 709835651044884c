"""PDF → text with page numbers: lines joined where a sentence was broken at the line end,
running headers, footers and page numbers dropped, and `page_of` maps a text offset back to
its page (citations show the page).
"""

from __future__ import annotations

import bisect
import io
import math
import re
import unicodedata
from collections import Counter

from rag.errors import LoadError
from rag.ingest.load.encoding import _CJK, normalize_text, one_line

_END_PUNCT = "。!?;:…!?;:" + ")】〕》」』〉)]"
_NO_LINE_START = "。,、;:?!…)】〕》」』〉”’"  # Chinese typography never starts a line with these
_HEADING_START_RE = re.compile(
    r"^\s*(?:[一二三四五六七八九十百]+、|[((][一二三四五六七八九十百]+[))]|\d{1,3}[.、.](?!\d)|[((]\d{1,3}[))]|\d{1,3}[))]"
    r"|第[一二三四五六七八九十百零〇\d]+[章节条部分篇]|[①-⑳]|附件)"
)
_PAGE_NO_RE = re.compile(
    r"^(?:[-—–_\s]*\d{1,4}[-—–_\s]*|[-—–\s]*第\s*\d+\s*页[-—–\s]*(?:[,,/]?\s*共\s*\d+\s*页)?|共\s*\d+\s*页"
    r"|\d+\s*/\s*\d+|[Pp]age\s*\d+(?:\s*of\s*\d+)?)$"
)
# spaces some PDFs put between CJK characters (and their punctuation): "法 治 政 府 ," → "法治政府,"
_CJK_SPACE_RE = re.compile(
    f"(?<=[{_CJK}\u3000-\u303f\uff00-\uffef]) +(?=[{_CJK}\u3000-\u303f\uff00-\uffef,.;:!?)])"
    f"|(?<=[{_CJK}\u3000-\u303f\uff00-\uffef,;:!?(]) +(?=[{_CJK}\u3000-\u303f\uff00-\uffef])"
)
_LATIN_RE = re.compile("[A-Za-z]")
# some PDF fonts map ideographs to Kangxi radicals (⼀ U+2F00 for 一): map them back
_KANGXI = {o: unicodedata.normalize("NFKC", chr(o)) for o in range(0x2F00, 0x2FD6)}


def _width(s: str) -> float:
    return sum(1.0 if ord(c) > 0x2E80 else 0.5 for c in s)


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def _strip_headers_footers(pages: list[list[str]]) -> list[list[str]]:
    """Drop first/last lines that repeat (digits aside) on most pages, and lone page numbers
    at the top or bottom of a page."""
    with_text = [p for p in pages if p]
    repeated: set[str] = set()
    if len(with_text) >= 2:
        counts: Counter[str] = Counter()
        for lines in with_text:
            counts.update({_edge_key(x) for x in lines[:2] + lines[-2:]})
        need = max(2, math.ceil(len(with_text) / 2))
        repeated = {k for k, c in counts.items() if c >= need}

    def edge(line: str) -> bool:
        return _edge_key(line) in repeated or bool(_PAGE_NO_RE.match(line.strip()))

    out = []
    for lines in pages:
        lines = list(lines)
        for _ in range(2):
            if lines and edge(lines[0]):
                lines.pop(0)
            if lines and edge(lines[-1]):
                lines.pop()
        out.append(lines)
    return out


def _should_join(a: str, b: str, full: float) -> bool:
    """Whether line b continues line a (a PDF layout break in the middle of a sentence):
    a does not end a sentence or with a closing bracket, and b does not start an outline
    heading. Except: a line never starts with closing punctuation (b = "。…" continues a);
    a heading line shorter than the full width ends there; and a short line without a
    comma is a title, a signature or a date line."""
    if not a or not b:
        return False
    if b[0] in _NO_LINE_START:
        return True
    if a[-1] in _END_PUNCT or _HEADING_START_RE.match(b):
        return False
    width = _width(a)
    if _HEADING_START_RE.match(a) and width < 0.75 * full:
        return False
    if width < 0.6 * full and not re.search("[,,、]", a):
        return False
    return True


def pdf_pages(data: bytes, max_pages: int = 3000) -> list[str]:
    """Raw text of each page (pypdf), normalised. Raises LoadError if encrypted/corrupt or
    longer than `max_pages`."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")  # many PDFs only have an owner password
        except Exception as e:
            raise LoadError(f"encrypted PDF, cannot decrypt ({one_line(e)})") from None
        if not ok:
            raise LoadError("encrypted PDF (a password is required)")
    if len(reader.pages) > max_pages:
        raise LoadError(f"{len(reader.pages)} pages, more than the {max_pages} allowed (corpus.max_pdf_pages)")
    texts, errors = [], []
    for page in reader.pages:
        try:
            texts.append(normalize_text(page.extract_text() or ""))
        except Exception as e:  # one bad page should not lose the document
            errors.append(e)
            texts.append("")
    if errors and not any(t.strip() for t in texts):
        raise LoadError(f"cannot extract text from PDF ({one_line(errors[0])})")
    return texts


def pdf_to_text(page_texts: list[str]) -> tuple[str, list[tuple[int, int, int]]]:
    """Join pages into one text: headers/footers/page numbers removed, layout line breaks
    inside sentences joined. Returns (text, spans); the spans are contiguous, each page's
    text (and the line break after it) lies in its span; pages without text get none."""
    pages = []
    for t in page_texts:
        lines = []
        for line in t.translate(_KANGXI).split("\n"):
            line = _CJK_SPACE_RE.sub("", line.strip(" \t\xa0\u3000"))
            if line:
                lines.append(line)
        pages.append(lines)
    pages = _strip_headers_footers(pages)
    widths = sorted(_width(x) for lines in pages for x in lines)  # "full" = a whole line's width
    full = (widths[int(0.9 * (len(widths) - 1))] if len(widths) >= 10 else widths[-1]) if widths else 0.0
    parts: list[str] = []
    starts: list[tuple[int, int]] = []  # (offset, page_no)
    length = 0
    prev = None
    for page_no, lines in enumerate(pages, start=1):
        for j, line in enumerate(lines):
            if prev is None:
                sep = ""
            elif _should_join(prev, line, full):
                sep = " " if _LATIN_RE.match(prev[-1]) and _LATIN_RE.match(line[0]) else ""  # English words
            else:
                sep = "\n"
            if j == 0:
                starts.append((length + len(sep), page_no))
            parts.append(sep + line)
            length += len(sep) + len(line)
            prev = line
    text = "".join(parts)
    spans = []
    for k, (start, page_no) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(text)
        spans.append((0 if k == 0 else start, end, page_no))
    return text, spans


def page_of(pages: list[tuple[int, int, int]], offset: int) -> int | None:
    """The page number holding `offset` of the text, given Loaded.pages."""
    k = bisect.bisect_right([s for s, _, _ in pages], offset) - 1
    if k >= 0 and pages[k][0] <= offset < pages[k][1]:
        return pages[k][2]
    return None
