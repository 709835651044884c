"""Whole documents: normalised text → clean document text.

`clean_document(raw)`:
1. table cells separated by Tabs become `cell | cell` (so that normalisation, which collapses
   whitespace, keeps the columns);
2. `rag.text.normalize.normalize` (glosses, traditional → simplified, widths, doubled marks);
3. the information-disclosure header (索引号, 发文字号, 成文日期…) is read
   (`rag.ingest.meta.header`) and its lines dropped;
4. tables written one cell per line (`序号 |` / `工作任务 |` …) are put back into rows;
5. page chrome is dropped by the named rules of `rag.ingest.chrome`;
6. paragraphs glued into one line are split, lines broken mid-sentence are joined, and a body
   that repeats is kept once.

`Cleaned.normalized` keeps the text before chrome removal (with only the in-line garbage of
`chrome.strip` removed), for the metadata extractors: signatures, dates and bylines live there.
`Cleaned.header` holds the header fields.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from rag.ingest import chrome
from rag.ingest.meta.header import read_header
from rag.text.normalize import normalize

_CJK = "\u3400-\u9fff"
_CJK_PUNCT = "。,、;:!?“”《》()〔〕…—"

# A long line holding several paragraphs separated by spaces (file 001): split there.
LONG_LINE = 300
_PARA_BREAK_RE = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}]) (?=[{_CJK}“《(\d])")
REPEAT_MIN_CHARS = 200  # a paragraph this long that appears again is a duplicated body
CELL_SEP = " | "  # how table cells are written in the clean text
_TAB_RE = re.compile(r"[ \u3000]*\t[ \u3000]*")  # one cell per Tab: an empty cell keeps its column


@dataclass
class Cleaned:
    text: str  # the clean document text (what chunks and offsets refer to)
    normalized: str  # normalised text before chrome/duplicate removal (metadata reads it)
    dropped_lines: int
    dropped_duplicates: int
    header: dict[str, str] = field(default_factory=dict)  # 索引号 → index_no, … (see meta.header.FIELDS)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (rule name, line) of each dropped line


def _split_glued_paragraphs(line: str) -> list[str]:
    if len(line) < LONG_LINE:
        return [line]
    return [p for p in _PARA_BREAK_RE.split(line) if p.strip()]


# Outline labels that start a new paragraph (一、 (一) 1. (1) 1) 一是): never glued to the line above.
_LABEL_START_RE = re.compile(r"^(?:[一二三四五六七八九十]+[、是)]|[(]\S{1,3}[)]|\d{1,3}[.、)]|0[1-9]\s|第[一二三四五六七八九十]{1,3}[章部]|问[一二三四五六七八九十]{1,3}[::])")


_SENTENCE_MARK_RE = re.compile(r"[,。;:,;:]")
_NOT_CONTINUATION_RE = re.compile(r"^(?:\S{1,15}〔\d{4}〕\d{1,4}号|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)$")


_LABEL_LINE_RE = re.compile(r"^[\u4e00-\u9fff]{2,8}[::]")
BROKEN_MIN = 40  # a line this long that stops mid-sentence was cut, in any text
WRAP_MIN_LINES = 5  # lines of one width, cut mid-sentence, that make a text hard-wrapped
WRAP_SHARE = 0.6  # and the share of the long lines they must be


def _wrap_width(paras: list[str]) -> int:
    """The width a hard-wrapped text (an OCR or PDF dump cut every ~30 characters) was cut at:
    the most common length (±2) of the lines that stop mid-sentence with running text after them,
    when most long lines (WRAP_SHARE) have that length; else BROKEN_MIN. Outline
    headings without a full stop (`(一)坚持党的领导,全面推进法治建设`) are no cut lines."""
    long_lines = [p for p in paras if len(p) >= 16]
    cut = Counter(len(p) for p, nxt in zip(paras, paras[1:])
                  if len(p) >= 16 and re.match(rf"[{_CJK}\w,,、]", p[-1]) and not _LABEL_START_RE.match(p)
                  and nxt and not _LABEL_START_RE.match(nxt))
    if not cut or not long_lines:
        return BROKEN_MIN
    width, n = max(((w, sum(cut[x] for x in range(w - 2, w + 3))) for w in cut), key=lambda t: (t[1], -t[0]))
    at_width = sum(abs(len(p) - width) <= 2 for p in long_lines)  # cut or not: a wrapped text's lines are that long
    if n < WRAP_MIN_LINES or at_width < WRAP_SHARE * len(long_lines):
        return BROKEN_MIN
    return min(BROKEN_MIN, width - 2)


def _join_broken_lines(paras: list[str]) -> list[str]:
    """A long line of running text cut mid-sentence ("…执法人员\n775 人,…") is joined with the
    next one: long means BROKEN_MIN characters, or the width a hard-wrapped text was cut at. A
    title (no sentence punctuation), a table row (`a | b | c`), or a line followed by a document
    number or a date is never joined."""
    out: list[str] = []
    width = _wrap_width(paras)
    last = 0  # length of the last line joined into out[-1]
    for p in paras:
        prev = out[-1] if out else ""
        cut = ((len(prev) > BROKEN_MIN and re.match(rf"[{_CJK}\w]", prev[-1]))
               or (width < BROKEN_MIN and last >= width and re.match(rf"[{_CJK}\w,,、%]", prev[-1])
                   and not _LABEL_LINE_RE.match(p) and not _LABEL_LINE_RE.match(prev)  # 牵头单位:… lines
                   and not (_LABEL_START_RE.match(prev) and len(prev) == last)))  # a heading line
        if (cut and not _LABEL_START_RE.match(p) and _SENTENCE_MARK_RE.search(prev)
                and not _NOT_CONTINUATION_RE.match(p) and CELL_SEP not in prev and CELL_SEP not in p):
            out[-1] = prev + p
        else:
            out.append(p)
        last = len(p)
    return out


def is_chrome(line: str) -> bool:
    """Whether a line on its own is page chrome (see `rag.ingest.chrome.RULES`)."""
    return chrome.match(line.strip().strip("|").strip()) is not None


_GAP_RE = re.compile(r"(?<=\S)[ \u3000]{2,}(?=\S)")
GAP_CELLS = 3  # cells (two gaps of spaces or more) that make a line a row of a space-aligned table
GAP_ROWS = 3  # and the consecutive such lines that make a table


def _spaces_to_tabs(raw: str) -> str:
    """Rows of a table aligned with spaces (a PDF annex: `1     修订…规定     县政府办公室     县司法局`),
    GAP_ROWS consecutive lines or more with GAP_CELLS cells or more, get Tabs between their cells."""
    lines = raw.split("\n")
    rows = [len(_GAP_RE.findall(ln.strip(" \u3000"))) >= GAP_CELLS - 1 and "\t" not in ln for ln in lines]
    out = list(lines)
    i = 0
    while i < len(lines):
        j = i
        while j < len(lines) and rows[j]:
            j += 1
        if j - i >= GAP_ROWS:  # a header and two rows at least: a page's bars are not that many
            for k in range(i, j):
                out[k] = _GAP_RE.sub("\t", lines[k].strip(" \u3000"))
        i = max(j, i + 1)
    return "\n".join(out)


def _tabs_to_cells(raw: str) -> str:
    """Rows of a Tab-separated table (at least two consecutive lines with a Tab between words)
    → `a | b | c`. A lone Tab inside a line, or Tabs that indent it, stay whitespace."""
    if "\t" not in raw:
        return raw
    lines = raw.split("\n")
    inner = ["\t" in ln.strip(" \t\u3000") for ln in lines]
    out = []
    for i, ln in enumerate(lines):
        # a row between rows, or a row of three cells or more on its own (a header above a group
        # row "一、…" that spans the table)
        if inner[i] and ((i > 0 and inner[i - 1]) or (i + 1 < len(lines) and inner[i + 1])
                         or (ln.strip(" \t\u3000").count("\t") >= 2 and i + 2 < len(lines) and inner[i + 2])):
            core = ln.strip(" \t\u3000")
            out.append(_TAB_RE.sub(CELL_SEP, core))
        else:
            out.append(ln)
    return "\n".join(out)


def _indent(line: str) -> int:
    n = 0
    for ch in line:
        if ch == " ":
            n += 1
        elif ch in "\u3000\t":
            n += 2
        else:
            break
    return n


_CELL_LINE_RE = re.compile(r"\S\s*\|\s*$")
_ROW_NO_RE = re.compile(r"^\d{1,3}$")


def _join_cell_lines(lines: list[str]) -> list[str]:
    """A table written one cell per line, each ending with `|` (a15): header cells up to the
    first row number give the column count; cells are regrouped into rows `a | b | c`. A cell
    broken over two lines (`牵头` / `单位 |`) is joined first. Other lines are left alone."""
    out = list(lines)
    i = 0
    n = len(lines)
    while i < n:
        if not _CELL_LINE_RE.search(lines[i]) or lines[i].count("|") != 1:
            i += 1
            continue
        cells: list[str] = []
        idx: list[int] = []
        j = i
        pending = ""
        while j < n:
            ln = lines[j]
            if not ln:
                break
            if _CELL_LINE_RE.search(ln) and ln.count("|") == 1:
                cells.append(pending + ln.rstrip().rstrip("|").strip())
                pending = ""
                idx.append(j)
            elif j + 1 < n and _CELL_LINE_RE.search(lines[j + 1]) and "|" not in ln and len(ln) <= 20:
                pending += ln.strip()
                idx.append(j)
            else:
                break
            j += 1
        header = next((k for k, c in enumerate(cells) if _ROW_NO_RE.match(c)), None)
        if header and header >= 2 and len(cells) >= 2 * header and len(cells) % header == 0:
            rows = [CELL_SEP.join(cells[k:k + header]) for k in range(0, len(cells), header)]
            for k in idx:
                out[k] = ""
            out[idx[0]] = "\n".join(rows)
        i = max(j, i + 1)
    return "\n".join(out).split("\n")


def _running_headers(lines: list[str], page_numbers: list[int]) -> list[int]:
    """Lines a PDF-to-text dump repeats at every page break (a running header or footer such as
    勐腊县2022年度法治政府建设情况报告 around `— 2 —`): the nearest non-empty line on either side of
    a page number, when the same line stands next to at least two page numbers."""
    near: dict[str, list[tuple[int, int]]] = {}  # line → (its index, the page number's index)
    for p in page_numbers:
        for step in (-1, 1):
            j = p + step
            while 0 <= j < len(lines) and not lines[j]:
                j += step
            if 0 <= j < len(lines) and len(lines[j]) <= 60:
                near.setdefault(lines[j], []).append((j, p))
    return sorted({j for pairs in near.values() if len({p for _, p in pairs}) >= 2 for j, _ in pairs})


_OUTLINE_START_RE = re.compile(r"^(?:[一二三四五六七八九十]+、|[((][一二三四五六七八九十\d]+[))]|\d+[.、.])")

def _join_across_page_breaks(lines: list[str], page_numbers: list[int]) -> None:
    """A sentence a page break cut ("…议题156个," | — 1 — | "法律顾问…"): the line before the
    break, when it ends mid-sentence, takes the line after it (in place)."""
    for p in page_numbers:
        a = p - 1
        while a >= 0 and not lines[a]:
            a -= 1
        b = p + 1
        while b < len(lines) and not lines[b]:
            b += 1
        if a < 0 or b >= len(lines):
            continue
        if (re.search(r"[。!?;:”」》)]$", lines[a]) or not re.match(rf"[{_CJK}\d“]", lines[b])
                or _OUTLINE_START_RE.match(lines[b]) or _LABEL_LINE_RE.match(lines[a])
                or not re.search(r"[,。;,;]", lines[a])):
            continue  # the break fell between sentences, before a heading, or after a label line
        lines[a], lines[b] = lines[a] + lines[b], ""


def clean_document(raw: str) -> Cleaned:
    raw = _tabs_to_cells(_spaces_to_tabs(raw.replace("\r\n", "\n").replace("\r", "\n")))
    normalized = normalize(raw)
    raw_lines = raw.split("\n")
    norm_lines = normalized.split("\n")
    indents = [_indent(ln) for ln in raw_lines] if len(raw_lines) == len(norm_lines) else None
    lines = [chrome.strip(ln.strip()).strip() for ln in norm_lines]
    stripped_normalized = "\n".join(chrome.strip(ln) if ln.strip() else ln for ln in norm_lines)
    head_end = chrome.body_start(lines)
    header = read_header(lines, indents, head_end)
    dropped: list[tuple[str, str]] = [("header", lines[i]) for i in sorted(header.lines)]
    for i in header.lines:
        lines[i] = ""
    lines = _join_cell_lines(lines)
    kept_lines, chrome_dropped = chrome.apply([ln.strip("|").strip() for ln in lines])
    dropped += [(name, lines[i]) for i, name in chrome_dropped]
    page_numbers = [i for i, name in chrome_dropped if name == "page_number"]
    for i in _running_headers(kept_lines, page_numbers):
        dropped.append(("running_header", kept_lines[i]))
        kept_lines[i] = ""
    _join_across_page_breaks(kept_lines, page_numbers)
    kept = [ln.strip().strip("|").strip() for ln in kept_lines]
    kept = [ln for ln in kept if ln]
    # A body that appears twice (scraped pages repeat the article): keep its last copy, which
    # in such pages follows the title and byline. Compared before glued paragraphs are split,
    # so a repeated body's short paragraphs and headings go with it.
    last = {ln: i for i, ln in enumerate(kept) if len(ln) >= REPEAT_MIN_CHARS}
    once = [ln for i, ln in enumerate(kept) if len(ln) < REPEAT_MIN_CHARS or last[ln] == i]
    paragraphs = _join_broken_lines([p.strip() for ln in once for p in _split_glued_paragraphs(ln)])
    return Cleaned(
        text="\n".join(paragraphs),
        normalized=stripped_normalized,
        dropped_lines=len(dropped),
        dropped_duplicates=len(kept) - len(once),
        header=dict(header.fields),
        dropped=dropped,
    )
