"""Per-field accuracy of the ingest on a labelled fixture corpus (tests/fixtures).

    from rag.ingest.accuracy import evaluate, format_table
    results = evaluate("tests/fixtures")     # one FixtureResult per expected line
    print(format_table(results))

Each fixture's expected line (`expected/*.jsonl`) gives the metadata, the duties, deadlines,
targets, chrome that must disappear, text that must stay and outline headings. Strings are
compared after the same character normalisation the documents get (widths, traditional →
simplified, glosses) and with whitespace ignored, so `(` and `(` or a title split over two
lines compare equal. `scripts/fixture_accuracy.py` prints the table; the fixture tests assert
on the same results.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from rag.records import UNKNOWN
from rag.text.normalize import normalize, normalize_for_match

META_FIELDS = ("title", "issuer", "region", "level", "province", "city", "county", "period", "doc_type", "draft",
               "date", "publish_date", "doc_number", "index_no", "topic")
LIST_FIELDS = ("chrome_absent", "text_present", "headings", "duties", "deadlines", "targets", "contact")
_BOOK_RE = re.compile(r"[《》〈〉]")


def norm(s) -> str:
    """The comparison form: normalised, no whitespace, no 《》."""
    return _BOOK_RE.sub("", normalize_for_match(str(s)))


@dataclass
class Check:
    field: str
    ok: bool
    expected: object
    got: object = None


@dataclass
class FixtureResult:
    file: str
    checks: list[Check] = field(default_factory=list)
    error: str = ""

    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def by_field(self, name: str) -> list[Check]:
        return [c for c in self.checks if c.field == name]


def load_expected(fixtures: str | Path) -> list[dict]:
    root = Path(fixtures)
    out = []
    for f in sorted((root / "expected").glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(json.loads(line))
    return out


def _meta_equal(name: str, got, want) -> bool:
    if name == "draft":
        return bool(got) == bool(want)
    if got is None:
        got = UNKNOWN
    if name == "issuer":  # joint issuers: 、 (README-a) and a space (README-b) both separate them
        return norm(got).replace("、", "") == norm(want).replace("、", "")
    return norm(got) == norm(want)


def _absent(s: str, text_nows: str) -> bool:
    raw = re.sub(r"\s+", "", s)
    forms = {raw}
    n = re.sub(r"\s+", "", normalize(s))
    if len(n) > 1:  # ",," normalises to ",": the raw form is what must be gone
        forms.add(n)
    return not any(f and f in text_nows for f in forms)


def check_document(exp: dict, doc, sections, chunks) -> list[Check]:
    """Compare one processed document (Document, its sections and chunks) with its expected line."""
    checks: list[Check] = []
    meta = doc.meta
    for name in META_FIELDS:
        if name not in exp.get("meta", {}):
            continue
        want = exp["meta"][name]
        got = getattr(meta, name, UNKNOWN if name != "draft" else False)
        checks.append(Check(name, _meta_equal(name, got, want), want, got))
    text = doc.text
    text_n = norm(text)
    text_nows = re.sub(r"\s+", "", text)
    for s in exp.get("chrome_absent", []):
        checks.append(Check("chrome_absent", _absent(s, text_nows), s))
    for s in exp.get("text_present", []):
        checks.append(Check("text_present", norm(s) in text_n, s))
    # a heading is found when an outline section starts where the text reads that heading
    starts = [norm(text[s.start: s.start + 200].split("\n", 1)[0]) for s in sections if s.level > 0]
    for h in exp.get("headings", []):
        hn = norm(h)
        checks.append(Check("headings", any(x.startswith(hn) for x in starts), h))
    duties = [d for c in chunks for d in c.duties]
    for want in exp.get("duties", []):
        cn = norm(want["contains"])
        lead, support = {norm(x) for x in want["lead"]}, {norm(x) for x in want["support"]}
        cands = [d for d in duties if cn in norm(d.measure)]
        ok = any({norm(x) for x in d.lead} == lead and {norm(x) for x in d.support} == support for d in cands)
        got = [(d.lead, d.support) for d in cands][:3]
        checks.append(Check("duties", ok, want, got))
    deadlines = {norm(x) for c in chunks for x in c.deadlines}
    for s in exp.get("deadlines", []):
        checks.append(Check("deadlines", norm(s) in deadlines, s, sorted(deadlines)[:8]))
    targets = [norm(x) for c in chunks for x in c.targets]
    for s in exp.get("targets", []):
        checks.append(Check("targets", any(norm(s) in t for t in targets), s))
    contact = exp.get("contact")
    if isinstance(contact, dict):
        for key in ("names", "phones"):
            for s in contact.get(key, []):
                checks.append(Check("contact", norm(s) in text_n and norm(s) in norm(meta.contact), s, meta.contact))
    return checks


def evaluate(fixtures: str | Path = "tests/fixtures") -> list[FixtureResult]:
    from rag.errors import IngestError
    from rag.ingest.chunk import OutlineChunker
    from rag.ingest.document import load_document, process

    root = Path(fixtures)
    results = []
    chunker = OutlineChunker()
    for exp in load_expected(root):
        path = root / exp["file"]
        r = FixtureResult(exp["file"])
        try:
            doc = load_document(path, path.parent)
            pr = process(doc, chunker)
            r.checks = check_document(exp, doc, pr.sections, pr.chunks)
        except IngestError as e:
            r.error = str(e)
        results.append(r)
    return results


def field_accuracy(results: list[FixtureResult]) -> dict[str, tuple[int, int]]:
    """field → (correct, total); list fields count their items."""
    out: dict[str, tuple[int, int]] = {}
    for name in META_FIELDS + LIST_FIELDS:
        checks = [c for r in results for c in r.by_field(name)]
        if name in META_FIELDS:  # a fixture that failed to load counts as wrong
            total = sum(1 for r in results if r.error) + len(checks)
        else:
            total = len(checks)
        if total:
            out[name] = (sum(c.ok for c in checks), total)
    return out


def format_table(results: list[FixtureResult], details: bool = False) -> str:
    acc = field_accuracy(results)
    lines = [f"{'field':<14} {'correct':>7} {'total':>5} {'accuracy':>8}", "-" * 37]
    for name, (ok, total) in acc.items():
        lines.append(f"{name:<14} {ok:>7} {total:>5} {ok / total:>8.3f}")
    if details:
        lines.append("")
        for r in results:
            if r.error:
                lines.append(f"{r.file}: ERROR {r.error}")
            for c in r.failures():
                got = f" got {c.got!r}" if c.got is not None else ""
                lines.append(f"{r.file}: {c.field}: expected {c.expected!r}{got}")
    return "\n".join(lines)
