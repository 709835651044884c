"""Result and record types shared by every stage of the pipeline.

Offsets (`start`, `end`) always point into the *cleaned* text of the document, so
`document.text[chunk.start:chunk.end] == chunk.text` holds for every chunk.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

UNKNOWN = "unknown"
PATH_SEP = " › "


@dataclass
class DocMeta:
    """What a document is, extracted heuristically; fields we cannot tell are "unknown" (draft: False).

    Stored as JSON in the index; `DocMeta(**json)` also loads JSON written before a field existed."""

    title: str = UNKNOWN
    issuer: str = UNKNOWN
    region: str = UNKNOWN  # the most specific place the document is about (its own place), e.g. 利通区
    level: str = UNKNOWN  # province | city | county | township
    province: str = UNKNOWN  # e.g. 宁夏回族自治区
    city: str = UNKNOWN  # prefecture-level parent (吴忠市; the municipality for its districts), the city itself, or unknown
    period: str = UNKNOWN  # a plan's own span (2021-2025) or a report's / work points' year (2022)
    # implementation_plan | plan | implementation_opinion | work_points | annual_report | policy_explainer |
    # news_report | article | notice
    doc_type: str = UNKNOWN
    date: str = UNKNOWN  # ISO yyyy-mm-dd of the signature / 成文日期 (the article date for news)
    doc_number: str = UNKNOWN  # e.g. 陕法委发〔2021〕10号
    contact: str = UNKNOWN  # contact person and phone when the document gives them
    county: str = UNKNOWN  # county-level parent of a township document, e.g. 密云区 for 鼓楼街道
    draft: bool = False  # 征求意见稿 / 草案 / 送审稿 / 讨论稿
    publish_date: str = UNKNOWN  # ISO date of the site's 发布日期 / 发布时间
    index_no: str = UNKNOWN  # 索引号 of an information-disclosure header
    topic: str = UNKNOWN  # 主题分类

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Document:
    doc_id: str
    path: str  # path of the source file, relative to the corpus folder
    text: str  # cleaned, simplified text; all offsets point into it
    meta: DocMeta = field(default_factory=DocMeta)
    source_hash: str = ""  # sha256 of the raw bytes
    encoding: str = ""
    format: str = ""
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, page_no) in text


@dataclass
class Section:
    """A node of the document's own outline (一、/(一)/1./(1)/1)/一是)."""

    path: tuple[str, ...]  # headings from the top level down to this section
    level: int  # 1 = 一、, 2 = (一), 3 = 1., 4 = (1), 5 = 1), 6 = 一是 items; 0 = preamble
    heading: str  # the heading line of this section ("" for the preamble)
    start: int  # start of the heading in the document text
    end: int  # end of the section's own body (before its first child or next sibling)
    body_start: int = 0  # where the body (after the heading) starts

    @property
    def path_str(self) -> str:
        return PATH_SEP.join(self.path)


@dataclass
class Duty:
    """A responsibility note such as (区发改局、区市场监管局牵头,各有关部门配合)."""

    lead: list[str]
    support: list[str]
    note: str  # the note text as it appears in the document, parentheses included
    start: int  # offsets of the note in the document text
    end: int
    measure: str = ""  # the measure sentence(s) the note closes
    measure_start: int = 0
    deadlines: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Chunk:
    chunk_id: str  # "<doc_id>#<n>"
    doc_id: str
    section_path: tuple[str, ...]
    text: str
    start: int
    end: int
    duties: list[Duty] = field(default_factory=list)
    deadlines: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    page: int | None = None
    id: int = -1  # integer id used in the vector index (assigned by the store)

    @property
    def section(self) -> str:
        return PATH_SEP.join(self.section_path)


@dataclass
class Hit:
    chunk: Chunk
    score: float
    rank: int
    title: str = ""
    meta: DocMeta | None = None
    sources: dict[str, float] = field(default_factory=dict)  # per-retriever scores/ranks

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "doc_id": c.doc_id,
            "title": self.title,
            "section": c.section,
            "text": c.text,
            "start": c.start,
            "end": c.end,
        }


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    section: str
    text: str  # the cited text (a sentence or item of the chunk)
    start: int  # offsets of `text` in the document text
    end: int
    page: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if d["page"] is None:
            d.pop("page")
        return d


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    notice: str = ""  # e.g. "question truncated to 2000 characters"
    hits: list[Hit] = field(default_factory=list)
    refusal_rule: str = ""  # which check refused (a gate rule's name, or the answerer's reason)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "notice": self.notice,
        }
