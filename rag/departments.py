"""Who does what: measures with their lead (牵头) and supporting (配合) bodies and deadlines.

`find_duties` lists the responsibility notes of the indexed documents (the 找部门 table); with a
query, the measures matching it best: hybrid retrieval limited to chunks that carry notes,
keeping the measures that share a word with the query (a character, when the query has no word
of two); a topic no note mentions ("养狗") finds nothing rather than the nearest unrelated row.
"""

from __future__ import annotations

from dataclasses import dataclass

from rag.ingest.duties import measure_title
from rag.records import Duty
from rag.retrieve.query import resolve_filters


@dataclass
class DutyRow:
    """One measure with who leads it, who supports it and by when (the 找部门 table)."""

    doc_id: str
    title: str
    region: str
    section: str
    measure: str  # the measure's own title (its first sentence)
    lead: list[str]
    support: list[str]
    deadlines: list[str]
    targets: list[str]
    note: str
    start: int  # offsets of the note in the document text
    end: int
    measure_start: int
    chunk_id: str = ""
    score: float = 0.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _row(chunk, duty: Duty, meta, score: float) -> DutyRow:
    return DutyRow(
        doc_id=chunk.doc_id, title=meta.title if meta else chunk.doc_id, region=meta.region if meta else "",
        section=chunk.section, measure=measure_title(duty.measure), lead=duty.lead, support=duty.support,
        deadlines=duty.deadlines, targets=duty.targets, note=duty.note, start=duty.start, end=duty.end,
        measure_start=duty.measure_start, chunk_id=chunk.chunk_id, score=round(float(score), 4),
    )


def find_duties(index, retriever, query: str | None, k: int, region: str | None, doc: str | None,
                candidates: int) -> list[DutyRow]:
    """Rows of responsibility notes (see the module docstring); `index` and `retriever` are one
    version's, `candidates` is how deep the second, wider search looks."""
    docs = {d.doc_id: d for d in index.documents()}
    allowed_docs = resolve_filters(list(docs.values()), region, doc)
    if query:
        result = retriever.search(query, k=max(k, 10), region=region, doc=doc)
        hits = [(h.chunk, h.score) for h in result.hits if h.chunk.duties]
        extra = retriever.search(query, k=candidates, region=region, doc=doc)
        seen = {c.id for c, _ in hits}
        hits += [(h.chunk, h.score) for h in extra.hits if h.chunk.duties and h.chunk.id not in seen]
        words = [w for w in index.tokenizer.words(result.analysis.normalized) if len(w) >= 2]
        words = [w for w in words if not any(w != o and w in o for o in words)]  # 行政复议, not 行政
        words = words or [ch for ch in result.analysis.normalized if "\u4e00" <= ch <= "\u9fff"]  # 税
        chunks = [hc for hc in hits if any(w in hc[0].text for w in words)]
    else:
        chunks = [(c, 0.0) for c in index.store.iter_chunks() if c.duties
                  and (allowed_docs is None or c.doc_id in allowed_docs)]
    rows = []
    for c, score in chunks:
        meta = docs[c.doc_id].meta if c.doc_id in docs else None
        for d in c.duties:
            rows.append(_row(c, d, meta, score))
    return rows[:k] if query else rows
