"""Sections → chunks with a size cap, each keeping its section path and exact offsets.

- A section's own text (heading + body up to the next heading) is one unit.
- A heading with no body of its own ("1.深化行政审批制度改革。") is carried into the next
  chunk below it, so no chunk is a bare heading.
- A unit longer than `max_chars` is split at sentence boundaries (then at commas), every piece
  keeping the path.
- Runs of tiny sibling items (`6)居民公约和村规民约覆盖率达到100%。`) are merged up to
  `max_chars`; the path then names the range (`… › 效果指标 › 4)–8)`).
`text[chunk.start:chunk.end] == chunk.text` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from rag.ingest.duties import find_deadlines, find_duties, find_targets
from rag.ingest.outline import parse_outline
from rag.records import Chunk, Duty, Section

# v2: dense text = place + heading + text; v3: first-sentence titles; v4: chrome rules, header
# tables out of the text, table rows kept as `a | b`, responsibilities in every form (labelled
# lines, square brackets, table rows, prose) found once per document
CHUNKER_VERSION = "outline-v4"
_SENTENCE_END_RE = re.compile(r"[。!?;\n]+")
_CLAUSE_END_RE = re.compile(r"[,、:]+")


@dataclass
class _Unit:
    path: tuple[str, ...]
    level: int
    start: int
    end: int


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _in_table_row(text: str, pos: int) -> bool:
    """Whether `pos` falls inside (not at the end of) a table row line (`a | b | c`)."""
    line_start = text.rfind("\n", 0, pos) + 1
    if pos == line_start:  # right after a line break: between rows
        return False
    line_end = text.find("\n", pos)
    line_end = len(text) if line_end < 0 else line_end
    return pos < line_end and " | " in text[line_start:line_end]


def _cut_points(text: str, start: int, end: int, pattern: re.Pattern) -> list[int]:
    """Where text[start:end] may be cut: after the pattern's matches, never inside a table row
    (a row holds one measure and its units)."""
    return [m.end() for m in pattern.finditer(text, start, end) if m.end() < end and not _in_table_row(text, m.end())]


def _split_span(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """Greedy split of text[start:end] into pieces ≤ max_chars at sentence ends, then at
    clause ends, then anywhere."""
    if end - start <= max_chars:
        return [(start, end)]
    for pattern in (_SENTENCE_END_RE, _CLAUSE_END_RE):
        cuts = _cut_points(text, start, end, pattern)
        best = [c for c in cuts if c - start <= max_chars]
        if best:
            cut = best[-1]
            if cut - start >= max_chars // 3:
                return [(start, cut)] + _split_span(text, cut, end, max_chars)
    cut = start + max_chars
    return [(start, cut)] + _split_span(text, cut, end, max_chars)


def _within(d: Duty, text: str, start: int) -> Duty:
    """The duty with its measure cut to start inside the chunk (citations slice the chunk)."""
    if d.measure_start >= start:
        return d
    m_start = start
    while m_start < d.start and text[m_start].isspace():
        m_start += 1
    end = d.start if d.measure_start + len(d.measure) <= d.start else d.measure_start + len(d.measure)
    measure = text[m_start:end].strip()
    return replace(d, measure=measure, measure_start=m_start, deadlines=find_deadlines(measure),
                   targets=find_targets(measure))


class OutlineChunker:
    """Callable stage: (doc_id, cleaned text) → chunks."""

    version = CHUNKER_VERSION

    def __init__(self, max_chars: int = 360, min_chars: int = 40):
        if max_chars < 50 or min_chars < 0 or min_chars >= max_chars:
            raise ValueError(f"bad chunk sizes: max_chars={max_chars}, min_chars={min_chars}")
        self.max_chars = max_chars
        self.min_chars = min_chars

    def __call__(self, doc_id: str, text: str, sections: list[Section] | None = None) -> list[Chunk]:
        sections = parse_outline(text) if sections is None else sections
        units = self._units(text, sections)
        units = self._merge_tiny(text, units)
        # responsibilities are read once per document (a table's header row may sit in an
        # earlier chunk than its rows); each chunk gets the notes that lie inside it
        duties = find_duties(text, 0, len(text), [s.start for s in sections])
        chunks: list[Chunk] = []
        for u in units:
            for s, e in _split_span(text, u.start, u.end, self.max_chars):
                s, e = _strip_span(text, s, e)
                if e > s:
                    chunks.append(self._chunk(doc_id, text, len(chunks), u.path, s, e, duties))
        return chunks

    def split_text(self, text: str) -> list[str]:
        """llama-index style: the chunk texts of one document."""
        return [c.text for c in self("doc", text)]

    def _units(self, text: str, sections: list[Section]) -> list[_Unit]:
        units: list[_Unit] = []
        carry: int | None = None  # start of a bare heading waiting for its first child
        for sec in sections:
            s, e = _strip_span(text, sec.start, sec.end)
            if e <= s:
                continue
            body_s, body_e = _strip_span(text, max(sec.body_start, s), e)
            if sec.level > 0 and body_e <= body_s:  # a heading without a body
                carry = s if carry is None else carry
                continue
            if carry is not None:
                s, carry = carry, None
            units.append(_Unit(sec.path, sec.level, s, e))
        if carry is not None:  # headings at the very end with nothing below: keep their text
            last = sections[-1]
            units.append(_Unit(last.path, last.level, carry, _strip_span(text, carry, last.end)[1]))
        return units

    def _merge_tiny(self, text: str, units: list[_Unit]) -> list[_Unit]:
        out: list[_Unit] = []
        labels: list[list[str]] = []
        for u in units:
            prev = out[-1] if out else None
            if (
                prev is not None
                and u.path[:-1] == prev.path[: len(u.path) - 1]
                and len(prev.path) == len(u.path)
                and u.level >= 4
                and u.end - u.start < self.min_chars
                and u.end - prev.start <= self.max_chars
                and labels[-1][-1] != ""  # the previous unit is itself a small item
            ):
                prev.end = u.end
                labels[-1].append(u.path[-1])
                prev.path = u.path[:-1] + (f"{labels[-1][0]}–{labels[-1][-1]}",)
                continue
            small = u.level >= 4 and u.end - u.start < self.min_chars
            out.append(_Unit(u.path, u.level, u.start, u.end))
            labels.append([u.path[-1] if small and u.path else ""])
        return out

    def _chunk(self, doc_id, text, n, path, start, end, all_duties) -> Chunk:
        duties = [_within(d, text, start) for d in all_duties if start <= d.start and d.end <= end]
        body = text[start:end]
        return Chunk(
            chunk_id=f"{doc_id}#{n:04d}",
            doc_id=doc_id,
            section_path=tuple(path),
            text=body,
            start=start,
            end=end,
            duties=duties,
            deadlines=find_deadlines(body),
            targets=find_targets(body),
        )
