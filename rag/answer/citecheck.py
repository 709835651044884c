"""The citation check: the last stage of every answer, and the lexical checks it uses.

`CitationCheck.finish(draft, ctx)` turns an answerer's `Draft` into the `Answer`: a quoted
draft (extractive) has each quote verified against its document's text at its offsets; a
generated draft has its markers cleaned and renumbered and the sentences its sources do not
support dropped (a draft left empty, or one the model itself refused, becomes a refusal).
No model is involved; everything is lexical and deterministic.

* Markers: `[1]`, `[2][3]`, `[1,2]`, `[1、2]`, `[1-3]` and the full-width `【1】`, `［1］`
  forms. A bracket holds 1-3 digit numbers only, so `[2021]` in a document number such as
  陕法委发[2021]10号 is never taken for a citation.
* Sentences end at 。！？；!?; (the markers right after the end punctuation stay with the
  sentence: both 完成[1]。 and 完成。[1] cite source 1) and at line breaks.
* Support of a sentence by a set of sources = the share of the sentence's units that occur
  in the sources' text. Units (after NFKC and lower-casing, markers removed, punctuation
  ignored): every character bigram of each run of Chinese characters (a run of one
  character is one unit), and every Latin word or digit run. The source side also counts
  single Chinese characters, so 年 in "2025年" matches 年底前. Shares are of distinct units.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

from rag.messages import LLM_SAYS_NOT_COVERED, LLM_UNSUPPORTED, REFUSAL_PREFIX
from rag.records import Answer, Citation

if TYPE_CHECKING:  # pragma: no cover
    from rag.answer.context import AnswerContext, Draft, Source

_NUM = r"\d{1,3}"
_SEP = r"\s*(?:[,，、;；]|[-–~～])\s*"
MARKER_RE = re.compile(rf"[\[［【]\s*({_NUM}(?:{_SEP}{_NUM})*)\s*[\]］】]")
_MARKER_AFTER = re.compile(rf"[ \t]*{MARKER_RE.pattern}")
_TERMINATORS = "。！？；!?;"
_TRAILING = re.compile(rf"[{_TERMINATORS}\s]*$")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[a-z0-9]+")
_MAX_RANGE = 20


@dataclass
class CheckedText:
    text: str  # the cleaned answer
    used: list[int] = field(default_factory=list)  # sources cited in `text`, in order of first use
    removed: list[int] = field(default_factory=list)  # markers outside 1..len(sources), taken out
    flagged: list[str] = field(default_factory=list)  # sentences their sources do not support
    dropped: list[str] = field(default_factory=list)  # sentences taken out of `text`
    refusal: bool = False  # the answer is a refusal (资料中没有…) and passed through untouched


def _numbers(group: str) -> list[int]:
    """The numbers of one marker's inside: "1,2" -> [1, 2]; "1-3" -> [1, 2, 3]."""
    out: list[int] = []
    for part in re.split(r"\s*[,，、;；]\s*", group.strip()):
        bounds = re.split(r"\s*[-–~～]\s*", part)
        if len(bounds) == 2 and bounds[0] and bounds[1]:
            a, b = int(bounds[0]), int(bounds[1])
            if a <= b and b - a <= _MAX_RANGE:
                out.extend(range(a, b + 1))
            else:
                out.extend((a, b))
        else:
            out.extend(int(x) for x in bounds if x)
    return out


def _unique(values: Iterable[int]) -> list[int]:
    seen: dict[int, None] = {}
    for v in values:
        seen.setdefault(v, None)
    return list(seen)


def parse_citations(text: str) -> list[int]:
    """Source numbers cited in `text`, in order of first appearance, without repeats."""
    return _unique(n for m in MARKER_RE.finditer(text) for n in _numbers(m.group(1)))


def strip_citations(text: str) -> str:
    """`text` without its citation markers."""
    return MARKER_RE.sub("", text)


def split_sentences(line: str) -> list[str]:
    """Split one line into sentences; pieces concatenate back to `line` exactly."""
    out: list[str] = []
    start = i = 0
    n = len(line)
    while i < n:
        if line[i] not in _TERMINATORS:
            i += 1
            continue
        j = i
        while j < n and line[j] in _TERMINATORS:
            j += 1
        while (m := _MARKER_AFTER.match(line, j)) is not None:
            j = m.end()
        out.append(line[start:j])
        start = i = j
    if start < n:
        out.append(line[start:])
    return out


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def sentence_units(text: str) -> set[str]:
    """Units of a sentence: CJK bigrams (a lone character counts alone), Latin words, digit runs."""
    text = _normalise(text)
    units: set[str] = set()
    for run in _CJK.findall(text):
        if len(run) == 1:
            units.add(run)
        else:
            units.update(run[k : k + 2] for k in range(len(run) - 1))
    units.update(_WORD.findall(text))
    return units


def source_units(text: str) -> set[str]:
    """Units a source offers: its sentence units plus every single Chinese character."""
    units = sentence_units(text)
    for run in _CJK.findall(_normalise(text)):
        units.update(run)
    return units


def support(units: set[str], source: set[str]) -> float:
    """Share of the sentence's units found in the source (0.0 for a sentence without units)."""
    if not units:
        return 0.0
    return len(units & source) / len(units)


def _rewrite_markers(piece: str, valid: set[int], removed: list[int]) -> str:
    """Take the numbers outside `valid` out of the markers of `piece` (and record them)."""

    def fix(m: re.Match[str]) -> str:
        nums = _numbers(m.group(1))
        bad = [k for k in nums if k not in valid]
        if not bad:
            return m.group(0)
        removed.extend(bad)
        return "".join(f"[{k}]" for k in _unique(k for k in nums if k in valid))

    return MARKER_RE.sub(fix, piece)


def _attach(piece: str, n: int) -> str:
    """Put the marker [n] before the sentence's end punctuation."""
    tail = _TRAILING.search(piece)
    cut = tail.start() if tail else len(piece)
    return f"{piece[:cut]}[{n}]{piece[cut:]}"


def check_citations(
    text: str,
    sources: Sequence["Source"],
    support_threshold: float,
    drop_unsupported: bool = True,
) -> CheckedText:
    """Clean the markers of a generated answer and drop the sentences its sources do not support.

    A cited sentence is kept when the sources it cites together support it at
    `support_threshold` or more. A sentence without a (valid) marker is kept only when one
    source supports it that well; that source's marker is then attached. Unsupported
    sentences are listed in `flagged` and, with drop_unsupported (the default), removed.
    A refusal (an answer starting with 资料中没有) is returned untouched.
    """
    if text.lstrip().startswith(REFUSAL_PREFIX):
        return CheckedText(text=text, refusal=True)

    units_of = {s.n: source_units(s.text) for s in sources}
    valid = set(units_of)
    order = [s.n for s in sources]
    removed: list[int] = []
    flagged: list[str] = []
    dropped: list[str] = []
    out_lines: list[str] = []

    for line in text.split("\n"):
        if not line.strip():
            out_lines.append("")
            continue
        kept: list[str] = []
        pieces = split_sentences(line)
        for piece in pieces:
            original = piece
            piece = _rewrite_markers(piece, valid, removed)
            content = strip_citations(piece)
            units = sentence_units(content)
            cited = parse_citations(piece)
            if not units:
                if cited or not content.strip():
                    if original.strip():
                        dropped.append(original.strip())  # stray markers or punctuation only
                    continue
                kept.append(piece)  # punctuation, symbols: nothing to check
                continue
            if cited:
                pooled = set().union(*(units_of[k] for k in cited))
                ok = support(units, pooled) >= support_threshold
            else:
                best = max(order, key=lambda k: support(units, units_of[k]), default=None)
                ok = best is not None and support(units, units_of[best]) >= support_threshold
                if ok:
                    piece = _attach(piece, best)
            if ok:
                kept.append(piece)
                continue
            flagged.append(original.strip())
            if drop_unsupported:
                dropped.append(original.strip())
            else:
                kept.append(piece)
        line_out = "".join(kept)
        # keep the line's indentation unless its first sentence went
        line_out = line_out.rstrip() if kept and kept[0] == pieces[0] else line_out.strip()
        if line_out.strip():
            out_lines.append(line_out)
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(out_lines)).strip()
    return CheckedText(
        text=cleaned,
        used=parse_citations(cleaned),
        removed=_unique(removed),
        flagged=flagged,
        dropped=dropped,
    )


class CitationCheck:
    """The citation-check stage (see the module docstring)."""

    def __init__(self, support_threshold: float = 0.3):
        self.support_threshold = support_threshold

    def finish(self, draft: "Draft", ctx: "AnswerContext") -> Answer:
        from rag.answer.refusal import refusal_text

        def refuse(reason: str, rule: str) -> Answer:
            return Answer(draft.question, refusal_text(reason, ctx.documents.values()), [], True, draft.notice,
                          draft.hits, refusal_rule=rule)

        if draft.refusal:
            return refuse(draft.refusal, "no_answer_sentence")
        if draft.quoted:
            return Answer(draft.question, draft.text, self._verified(draft.sources, ctx), False, draft.notice,
                          draft.hits)
        from rag.answer.context import Source

        sources = [Source(n=c.n, title=c.title, section=c.section, text=c.text) for c in draft.sources]
        checked = check_citations(draft.text, sources, self.support_threshold)
        if checked.refusal or draft.text.startswith(REFUSAL_PREFIX):
            return refuse(LLM_SAYS_NOT_COVERED, "llm_refused")
        renumber = {old: new for new, old in enumerate(checked.used, 1)}
        text = re.sub(r"\[(\d+)\]", lambda m: f"[{renumber[int(m.group(1))]}]" if int(m.group(1)) in renumber else "",
                      checked.text)
        if not text.strip():
            return refuse(LLM_UNSUPPORTED, "llm_unsupported")
        by_n = {c.n: c for c in draft.sources}
        citations = [Citation(**{**by_n[old].to_dict(), "n": renumber[old], "page": by_n[old].page})
                     for old in checked.used]
        return Answer(draft.question, text, citations, False, draft.notice, draft.hits)

    @staticmethod
    def _verified(citations: list[Citation], ctx: "AnswerContext") -> list[Citation]:
        """The quotes of a quoted draft, each checked to be its document's text at its offsets
        (an answerer bug would otherwise cite a place the quote is not). A quote that fails
        is a bug: it raises rather than show a wrong source."""
        texts: dict[str, str] = {}
        for c in citations:
            if c.doc_id not in texts:
                doc = ctx.document(c.doc_id)
                texts[c.doc_id] = doc.text if doc is not None else ""
            if texts[c.doc_id][c.start:c.end] != c.text:
                raise AssertionError(f"citation [{c.n}] of {c.doc_id} does not match the text at {c.start}:{c.end}")
        return citations
