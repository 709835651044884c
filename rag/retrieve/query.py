"""Understanding a question before retrieval: normalisation, places, filters, question type.

Questions are normalised exactly like documents (traditional → simplified, glosses, width), so
a traditional-character question retrieves like a simplified one. Places named in the question
are matched against the regions of the indexed documents: 宁夏 covers 宁夏's own plan and,
less strongly, the plans of places inside it (利通区); a place no document covers (北京, 张家口市)
is reported so the answerer can refuse instead of quoting another region.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable

from rag.errors import FilterError, QuestionError
from rag.index.catalog import EXACT, INSIDE, DocList, doc_chain, own_place_names
from rag.index.store import DocRecord
from rag.records import UNKNOWN
from rag.text import places as rg
from rag.text.normalize import normalize

_QTYPE_PATTERNS = [
    # who carries a measure out; "各牵头单位要在什么时候前…" asks when, so a bare 牵头 is not enough
    ("department", r"哪个部门|哪些部门|什么部门|谁负责|谁牵头|负责单位|责任单位|归谁管|归哪|找谁|找哪|谁管|主管部门|哪个单位|"
                   r"哪些单位|由谁|(?:牵头|配合|参与)(?:单位|部门)?(?:的)?(?:是|有|为)|(?<!各)牵头(?!单位要)|配合"),
    ("deadline", r"什么时候|何时|哪年|哪一年|几月|期限|截止|之前|以前|前完成|时间节点|时限|多久|(?:哪天|哪一天|几号)前|最晚"),
    ("target", r"多少|比例|百分之|达到|比重|覆盖率|几个|几项|几次|几名|数量|指标"),
    ("metadata", r"文号|发文|印发|联系人|联系电话|电话|邮箱|谁发布|发布单位|哪个机关|作者|哪天|日期|什么时间发布"),
    ("comparison", r"比较|对比|区别|不同|相同|分别|各自|两地|哪些地方|都"),
]


@dataclass
class Analysis:
    question: str  # as asked
    normalized: str  # what retrieval sees
    qtype: str = "fact"
    places: list[str] = field(default_factory=list)  # known places named (canonical names)
    unknown_places: list[str] = field(default_factory=list)  # named places no document covers
    mentioned_places: list[str] = field(default_factory=list)  # named places only mentioned in documents' text
    inside_only: list[str] = field(default_factory=list)  # named places with documents only of places inside them
    doc_match: dict[str, int] = field(default_factory=dict)  # doc_id → EXACT / INSIDE
    place_docs: dict[str, set[str]] = field(default_factory=dict)  # place → its own documents (exact, else inside)
    years: list[int] = field(default_factory=list)
    truncated: bool = False

    @property
    def out_of_corpus_place(self) -> bool:
        """The question names a place, and no indexed document covers any place it names."""
        return bool(self.unknown_places) and not self.doc_match


def question_type(q: str) -> str:
    for name, pattern in _QTYPE_PATTERNS:
        if re.search(pattern, q):
            return name
    return "fact"


def _visible(text: str) -> str:
    """`text` without invisible format characters (bidi overrides such as U+202E, zero-width
    spaces and joiners): they search nothing, and echoed back they would reorder what is shown."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def prepare(question: str, max_chars: int = 2000) -> tuple[str, bool]:
    """Normalised question, and whether it was truncated. QuestionError when nothing searchable
    is left."""
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    truncated = len(question) > max_chars
    q = normalize(_visible(question[:max_chars])).replace("\n", " ").strip()
    if not q:
        raise QuestionError("the question is empty")
    if not re.search(r"[\u3400-\u9fffA-Za-z0-9]", q):
        raise QuestionError("the question has no words, only punctuation or symbols")
    return q, truncated


def match_docs(place: rg.Region, docs: list[DocRecord]) -> dict[str, int]:
    if isinstance(docs, DocList):
        return dict(docs.by_place().get(place.name, {}))
    out = {}
    for d in docs:
        chain = doc_chain(d.meta)
        if not chain:
            continue
        if chain[0] == place.name:
            out[d.doc_id] = EXACT
        elif place.name in chain[1:]:
            out[d.doc_id] = INSIDE
    return out


def docs_title(doc_id: str, docs: list[DocRecord]) -> str:
    """Title and issuer of a document (for checking which place they name)."""
    for d in docs:
        if d.doc_id == doc_id:
            return f"{d.meta.title} {d.meta.issuer}"
    return ""


def titled_docs(name: str, docs: list[DocRecord]) -> set[str]:
    """Documents whose title or issuer names the place `name` as their own."""
    if isinstance(docs, DocList):
        return set(docs.titled().get(name, ()))
    return {d.doc_id for d in docs if name in own_place_names(d.meta)}


def analyse(question: str, docs: list[DocRecord], max_chars: int = 2000,
            mentions: Callable[[str], bool] | None = None) -> Analysis:
    """The question normalised, typed, with the places it names matched to documents: a
    document is about a place when its region chain holds it (the place's own documents, then
    those of places inside it) or its title or issuer names it. A named place no document is
    about but some document's text mentions (`mentions`) is not unknown: the documents speak of
    it, and retrieval finds where. Places are found by the gazetteer and township names, never
    by a pattern over the question."""
    q, truncated = prepare(question, max_chars)
    a = Analysis(question=question, normalized=q, qtype=question_type(q), truncated=truncated)
    named: list[tuple[str, rg.Region | None, int, int]] = []  # (name, region, start, end)
    for region, s, e in rg.find_regions(q):
        if all(region.name != n for n, *_ in named):
            named.append((region.name, region, s, e))
    for name, s, e in rg.township_names(q):
        if all(name != n for n, *_ in named):
            named.append((name, None, s, e))
    named.sort(key=lambda x: x[2])
    found: dict[str, dict[str, int]] = {}
    for name, region, _, _ in named:
        matched = match_docs(region, docs) if region is not None else {}
        for n in (region.names if region is not None else (name,)):
            for doc_id in titled_docs(n, docs):
                matched[doc_id] = EXACT
        found[name] = matched
    adjacent: set[tuple[str, str]] = set()
    for i, (name, region, s, e) in enumerate(named):
        matched = found[name]
        parent = named[i - 1] if i and named[i - 1][3] == s else None  # "义乌市胜利路街道": named under a place
        if parent is not None:
            adjacent.add((parent[0], name))
        if parent is not None and matched:
            under = found[parent[0]]
            if not set(matched) <= set(under) and not any(parent[0] in docs_title(d, docs) for d in matched):
                matched = {}  # this place's documents are of another place of that name
                name = parent[0] + name
        if matched:
            a.places.append(name)
            exact = {d for d, st in matched.items() if st == EXACT}
            a.place_docs[name] = exact or set(matched)
            if not exact:
                a.inside_only.append(name)
            for doc_id, strength in matched.items():
                a.doc_match[doc_id] = max(strength, a.doc_match.get(doc_id, 0))
        elif mentions is not None and any(mentions(n) for n in (region.names if region is not None else (name,))):
            a.mentioned_places.append(name)
        else:
            a.unknown_places.append(name)
    # a place named as the qualifier of the next one ("永川区胜利路街道", "义乌稠城街道") is one place
    # with it, not two: written right before it, or holding all its documents
    for outer, inner in zip(list(a.place_docs), list(a.place_docs)[1:]):
        if outer not in a.place_docs or not _may_qualify(outer, inner):
            continue
        if (a.place_docs[inner] <= a.place_docs[outer]
                or ((outer, inner) in adjacent and a.place_docs[inner] <= set(found.get(outer, ())))):
            del a.place_docs[outer]
            if outer in a.inside_only:
                a.inside_only.remove(outer)
    a.years = years_in(q)
    return a


def years_in(text: str) -> list[int]:
    """The years a text names (2023, 2021), in order."""
    return [int(y) for y in re.findall(r"(?<!\d)(19\d{2}|20\d{2})(?!\d)", text)]


def _may_qualify(outer: str, inner: str) -> bool:
    """`outer` can be the qualifier of `inner`: not a place inside it ("萍乡在江西全省…" names
    江西 after 萍乡, not as its part); a township the gazetteer lacks may sit under anything."""
    o, i = rg.get(outer), rg.get(inner)
    return o is None or i is None or o.name in {x.name for x in rg.chain(i)}


def resolve_filters(docs: list[DocRecord], region: str | None = None, doc: str | None = None) -> set[str] | None:
    """Doc ids allowed by --region / --doc (None = no filter). FilterError names the choices
    when nothing matches."""
    if not region and not doc:
        return None
    allowed = {d.doc_id for d in docs}
    if region:
        place = rg.get(normalize(region).strip())
        by_region = set(match_docs(place, docs)) if place else set()
        if not by_region:  # a region the gazetteer lacks: match the documents' own region names
            by_region = {d.doc_id for d in docs if region in (d.meta.region, d.meta.city, d.meta.province)}
        if not by_region:
            known = sorted({d.meta.region for d in docs if d.meta.region != UNKNOWN})
            raise FilterError(f"no document covers region {region!r}; regions in the index: {', '.join(known)}")
        allowed &= by_region
    if doc:
        by_doc = {d.doc_id for d in docs if d.doc_id == doc}
        by_doc = by_doc or {d.doc_id for d in docs if d.doc_id.startswith(doc)}
        by_doc = by_doc or {d.doc_id for d in docs if doc in d.meta.title}
        if not by_doc:
            raise FilterError(f"no document matches {doc!r}; give a doc_id (see `python -m rag docs`) or part of a title")
        allowed &= by_doc
    return allowed
