"""The extractive answerer: the default, offline, no language model.

From the evidence it selects the sentences or list items that answer the question, keeps them
verbatim and cites each one; the refusal gate has already decided that the documents cover
the question. By question type:
- 哪个部门牵头/负责 → the lead and supporting bodies from the responsibility note first;
- 什么时候/哪年 → the deadline first;  多少/比例 → the figure first;
- 文号/联系人/谁印发 → the document's metadata, cited where it stands in the text;
- comparisons across regions → one cited line per region.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterator

from rag.answer.asked import (
    ASKED_UNIT_RE,
    META_LABELS,
    META_PATTERNS,
    NUMBER_RE,
    PCT_RE,
    SPAN_UNITS,
    WHICH_SOURCE_RE,
    count_clauses,
    metadata_fields,
    unit_pattern,
)
from rag.answer.context import AnswerContext, Draft
from rag.answer.evidence import Evidence, Sentence, coverage, has_all, sentences
from rag.ingest.duties import find_deadlines, measure_title
from rag.messages import NO_EVIDENCE_SENTENCE
from rag.records import UNKNOWN, Chunk, Citation, Hit
from rag.text import places as rg

if TYPE_CHECKING:  # pragma: no cover
    from rag.retrieve.query import Analysis


# a measure holding less of the question's content than this is not what the question is about: a
# who-question about something no measure covers is answered from sentences (or refused), not from
# the nearest measure's offices (chosen on the dev split: answerable department questions >= 0.58)
DUTY_COVERAGE = 0.5
OTHER_PLACE_COVERAGE = 0.8
DEADLINE_SCORE = 0.6  # a sentence naming a deadline this close to the best one's score answers a when-question  # another place's measure this close to the best one's coverage is named too


@dataclass
class Composition:
    """The answer lines being composed and the quotes they cite ([n] = cited[n-1])."""

    lines: list[str] = field(default_factory=list)
    cited: list[tuple[str, int, int, Chunk, str]] = field(default_factory=list)  # (text, start, end, chunk, title)

    def cite(self, text: str, start: int, end: int, chunk: Chunk, title: str) -> int:
        for i, (t, s, e, c, _) in enumerate(self.cited, 1):
            if c.doc_id == chunk.doc_id and s == start and e == end:
                return i
        self.cited.append((text, start, end, chunk, title))
        return len(self.cited)


def _scope_line(ev: Evidence, comp: Composition) -> str:
    """Whose document an answer comes from, when the question names no place but the evidence
    is one place's document: "据利通区《…(2016—2020年)》(征求意见稿):"; and that it is of another
    year than one a follow-up carried over ("东城街道呢?" after "…2023年…")."""
    a = ev.analysis
    other_year = _other_year_line(ev, comp)
    if other_year:
        return other_year
    if a.places or a.mentioned_places or not comp.cited or any(line.startswith("出自") for line in comp.lines):
        return ""
    docs = {c.doc_id for _, _, _, c, _ in comp.cited}
    if len(docs) != 1:
        return ""
    label = _doc_label(ev.docs.get(next(iter(docs))))
    return f"据{label}:" if label and not _names_own_place(a.normalized, ev.docs.get(next(iter(docs)))) else ""


def _other_year_line(ev: Evidence, comp: Composition) -> str:
    """The cited documents are not of a year the follow-up only inherited: an annual report is of
    its own year, a plan of its span."""
    docs = sorted({c.doc_id for _, _, _, c, _ in comp.cited} & set(ev.docs))
    if not docs:
        return ""

    def of_year(year: int, doc_id: str) -> bool:
        if ev.docs[doc_id].meta.doc_type == "annual_report":
            return ev.report_of_year(year, doc_id)
        return ev.year_covered(year, doc_id)

    missing = [y for y in ev.inherited_years if not any(of_year(y, d) for d in docs)]
    if not missing:
        return ""
    label = _doc_label(ev.docs[docs[0]]) if len(docs) == 1 else ""
    years = "、".join(f"{y}年" for y in missing)
    return f"{label or '现有文件'}不涉及{years};以下是{'该文件' if label else '文件'}所写的:"


def _names_own_place(question: str, record) -> bool:
    """The question names the document's place, one the gazetteer may not know (安宁县): its
    region, its label, or the place its title opens with."""
    if record is None:
        return False
    meta = record.meta
    place = _place_label(meta)
    lead = TITLE_PLACE_RE.match(meta.title)
    return (meta.region != UNKNOWN and meta.region in question) or bool(place and place in question) or bool(
        lead and lead.group(1) in question)


TITLE_PLACE_RE = re.compile(r"^([\u4e00-\u9fff]{1,8}?(?:省|自治区|市|自治州|州|盟|县|自治县|区|旗|镇|乡|街道))")


def _doc_label(record) -> str:
    """A document as a reader names it: its place, its 《title》, (征求意见稿) for a draft;
    empty when its place or title is unknown."""
    if record is None or record.meta.region == UNKNOWN or record.meta.title == UNKNOWN:
        return ""
    m = record.meta
    place = _place_label(m)
    draft = "(征求意见稿)" if getattr(m, "draft", False) and "征求意见稿" not in m.title else ""
    title = m.title if place and place in m.title else f"{place}《{m.title}》" if place else f"《{m.title}》"
    title = title if title.startswith(place or "") and "《" in title else f"《{title}》"
    return f"{title}{draft}"


def _compared(a: "Analysis") -> list[str]:
    """The places a question asks about side by side: not one that only frames another ("萍乡在
    江西全省率先…": 江西 contains 萍乡, the question is 萍乡's)."""
    regions = {p: rg.get(p) for p in a.place_docs}
    inner = [r for r in regions.values() if r is not None]
    return [p for p, r in regions.items()
            if r is None or not any(r.name != o.name and r.name in {x.name for x in rg.chain(o)} for o in inner)]


def _place_label(meta) -> str:
    r = rg.get(meta.region) if meta and meta.region != UNKNOWN else None
    return r.short if r else (meta.title if meta else "")


class ExtractiveAnswerer:
    name = "extractive"

    def __init__(self, max_chars: int = 600):
        self.max_chars = max_chars

    def stream(self, ev: Evidence, history: list[tuple[str, str]]) -> Iterator[str | Draft]:
        draft = self.answer(ev)
        for piece in _pieces(draft.text):
            yield piece
        yield draft

    # -- the composition
    def answer(self, ev: Evidence) -> Draft:
        a, hits, words, weights, docs = ev.analysis, ev.hits, ev.words, ev.weights, ev.docs
        comp = Composition()
        qtype = a.qtype
        fields = metadata_fields(a.normalized)
        if fields and self._metadata_all(fields, ev, comp):
            pass
        elif (qtype == "comparison" or len(_compared(a)) >= 2) and self._comparison(
                a, ev.standalone, hits, words, weights, docs, ev.ctx, comp):
            pass
        elif (qtype == "department" and not _PERSON_ASKED_RE.search(a.normalized)
              and self._best_duty_coverage(hits, words, weights) >= DUTY_COVERAGE):  # a person is no office
            self._department(a, hits, words, weights, docs, comp)
        else:
            self._facts(a, hits, words, weights, comp, qtype, docs, ev.ctx)
        draft = Draft(ev.question, notice=ev.notice, hits=ev.result.hits)
        if not comp.lines:
            draft.refusal = NO_EVIDENCE_SENTENCE
            return draft
        scope = _scope_line(ev, comp)
        draft.text = "\n".join(([scope] if scope else []) + comp.lines)
        draft.sources = [
            Citation(n=i, doc_id=c.doc_id, title=title, section=c.section, text=t, start=s, end=e, page=c.page)
            for i, (t, s, e, c, title) in enumerate(comp.cited, 1)
        ]
        return draft

    @staticmethod
    def _best_duty_coverage(hits, words, weights) -> float:
        # the document's title counts: a place the gazetteer lacks (安宁县) stands there, not in the measure
        covs = [coverage(words, weights, f"{h.title} {d.measure}{d.note}") if words else 1.0
                for h in hits[:5] for d in h.chunk.duties]
        return max(covs, default=0.0)

    # -- composition by question type
    def _rank_sentences(self, hits: list[Hit], words, weights, qtype: str, limit: int = 6,
                        question: str = "") -> list[Sentence]:
        """Sentences of the first `limit` hits, best first: the question's content words (and the
        section path's), and the slot the question asks for — a name (叫什么), a count in its unit
        (多少人), a date (哪天), a deadline or a figure — which wins over a section's opening."""
        slot = _slot_pattern(question)
        out = []
        for h in hits[:limit]:
            asked = ""  # the page's own question (问:…?) the sentences after it answer
            for s in sentences(h):
                if _is_heading(s):
                    asked = ""
                    continue
                if _ASKING_RE.search(s.text):
                    asked = s.text if s.text.startswith("问") else ""
                cov = coverage(words, weights, s.text) if words else 0.0
                if words and (lead := _clause_context(s)) != s.text:
                    # "…新收行政复议案件143件,…;通过调解和解结案41件。": the part after a ";" is
                    # still about what the sentence began with
                    cov = max(cov, CONTEXT_WEIGHT * coverage(words, weights, lead))
                if words and asked and asked != s.text:  # an FAQ's answer (答:…) is about its question
                    cov = max(cov, CONTEXT_WEIGHT * coverage(words, weights, asked + s.text))
                bonus = 0.0
                if qtype == "deadline" and re.search(r"\d{4}年", s.text):
                    # a deadline ("2021年11月17日前", "2023年底前") over a year in passing ("(2021—2025年)")
                    bonus += 0.25 if find_deadlines(s.text) else 0.1
                if qtype == "target" and (PCT_RE.search(s.text) or NUMBER_RE.search(s.text)):
                    bonus += 0.25
                if slot is not None and slot.search(s.text):
                    bonus += 0.25
                path_cov = coverage(words, weights, h.chunk.section) if words else 0.0
                s.score = cov + 0.3 * path_cov + bonus + 0.15 / h.rank
                if _ASKING_RE.search(s.text) or _SPEAKER_RE.match(s.text):
                    s.score *= 0.5  # a question the page asks (问:…?), a speaker's label: no evidence
                out.append(s)
        out.sort(key=lambda s: -s.score)
        return out

    def _facts(self, a: "Analysis", hits, words, weights, comp: Composition, qtype: str, docs, ctx: AnswerContext) -> None:
        ranked = self._rank_sentences(hits, words, weights, qtype, question=a.normalized)
        if not ranked:
            return
        best = ranked[0]
        if qtype == "deadline" and not find_deadlines(best.text):
            # the best sentence names no deadline: one of the same document that does, and is
            # nearly as close to the question, answers instead (the notice's 2021年11月17日前, not
            # its title's 2021—2025年)
            best = next((s for s in ranked[1:] if s.chunk.doc_id == best.chunk.doc_id and find_deadlines(s.text)
                         and s.score >= DEADLINE_SCORE * best.score), best)
        chosen = [best]
        same = [s for s in sentences(best.hit) if not _is_heading(s)]
        idx = next((i for i, s in enumerate(same) if s.start == best.start), len(same))
        # a short lead-in ("二是开展…活动。", "…存在一些不足,") is completed by what follows it
        nxt = idx + 1
        while nxt < len(same) and sum(len(s.text) for s in chosen) < 60 and not same[nxt].text.startswith("问"):
            chosen.append(same[nxt])
            nxt += 1
        if re.search(r"[,:]$", chosen[-1].text) and nxt >= len(same):
            chosen += self._items_below(best.hit, ctx)
        if qtype == "deadline" and _ENUMERATED_RE.match(best.text) and not re.search(r"\d{4}年", _TITLES_RE.sub("", best.text)):
            # "一是印发实施《…》" asked when: the lead-in above ("2022年,…重点抓好以下工作:") says it
            chosen = self._lead_in_above(best, same, idx, ctx) + chosen
        for s in ranked[1:]:
            if len(chosen) >= 3:
                break
            if s.score >= 0.75 * best.score and s.chunk.id == best.chunk.id and all(s.start != c.start for c in chosen):
                chosen.append(s)
        chosen.sort(key=lambda s: (s.chunk.doc_id, s.start))
        lead = ""
        if qtype == "deadline":
            # the best sentence's time, else its lead-in's ("2022年,…重点抓好以下工作:" above "一是印发…");
            # a year in a cited title ("《…(2021—2025年)》") is its name, not a time
            dl = next((found for c in [best] + [c for c in chosen if c is not best]
                       if (found := find_deadlines(c.text) or re.findall(r"\d{4}年(?:\d{1,2}月)?(?:底|年底)?",
                                                                          _TITLES_RE.sub("", c.text)))), [])
            lead = f"时间:{dl[0]}。" if dl else ""
        elif qtype == "target":
            unit = ASKED_UNIT_RE.search(a.normalized)  # 多少名: the number counted in 名, not the first one,
            counts = count_clauses(best.text, re.compile(unit_pattern(unit.group(1)))) if unit else []
            # and of those the one whose clause says most of what is asked (受理196件, not 收到218件)
            m = max(counts, key=lambda mc: coverage(words, weights, mc[1]) if words else 0.0)[0] if counts else None
            m = m or PCT_RE.search(best.text) or NUMBER_RE.search(best.text)
            lead = f"数字:{m.group(0)}。" if m else ""
        if WHICH_SOURCE_RE.search(a.normalized):
            meta = docs[best.chunk.doc_id].meta if best.chunk.doc_id in docs else None
            if meta is not None:
                lead = f"出自{_place_label(meta)}《{meta.title}》。" + lead
        body = []
        for s in chosen:
            n = comp.cite(s.text, s.start, s.end, s.chunk, s.hit.title)
            body.append(f"{_strip_label(s.text)}[{n}]")
        comp.lines.append(lead + _join(body, self.max_chars))

    @staticmethod
    def _lead_in_above(best: Sentence, same: list[Sentence], idx: int, ctx: AnswerContext) -> list[Sentence]:
        """The sentence introducing an enumerated item ("2022年,…重点抓好以下工作:" before "一是…"),
        in the same chunk or at the end of the chunk before it; none when it is no lead-in (:)."""
        k = idx - 1
        while k >= 0 and _ENUMERATED_RE.match(same[k].text):  # "二是…" after "一是…": the lead-in above both
            k -= 1
        if k >= 0:
            above = same[k]
        else:
            before = [c for c in ctx.doc_chunks(best.chunk.doc_id) if c.end <= best.chunk.start]
            if not before:
                return []
            prev = sentences(Hit(before[-1], best.hit.score, best.hit.rank, best.hit.title, best.hit.meta))
            if not prev:
                return []
            above = prev[-1]
        return [above] if re.search(r"[::]$", above.text) and not _is_heading(above) else []

    @staticmethod
    def _items_below(hit: Hit, ctx: AnswerContext, limit: int = 4) -> list[Sentence]:
        """The first sentence of each item under a lead-in chunk ("存在一些不足," → 一是… 二是…)."""
        c = hit.chunk
        out = []
        for other in ctx.doc_chunks(c.doc_id):
            if other.start < c.end or other.section_path[: len(c.section_path)] != c.section_path:
                continue
            if len(out) >= limit or other.section_path == c.section_path:
                break
            if out and len(other.section_path) != len(out[0].chunk.section_path):
                break  # the items are siblings: a heading of another level ends them
            first = sentences(Hit(other, hit.score, hit.rank, hit.title, hit.meta))[:1]
            if not first or _is_heading(first[0]):
                break
            out += first
        return out

    def _department(self, a: "Analysis", hits, words, weights, docs, comp: Composition) -> None:
        """The lead and supporting bodies of the measure that best matches, then the measure. When
        another measure with other lead bodies holds every content word in the sentence its note
        closes (食品药品安全 is in 综合执法 and in "全过程保障食品药品安全(区综治办牵头…)"), it is
        named too, so the citizen sees both offices. A question naming no place, answered as well
        by another place's document, gets that place's office too, each labelled with its
        document: offices differ from place to place."""
        candidates = []
        for h in hits[:5]:
            for d in h.chunk.duties:
                text = d.measure + d.note
                cov = coverage(words, weights, text) if words else 0.0
                candidates.append((cov + 0.1 / h.rank, cov, h, d))
        candidates.sort(key=lambda c: -c[0])
        _, _, h, d = candidates[0]
        n = self._cite_duty(h, d, comp)
        lead = f"牵头单位:{'、'.join(d.lead)}"
        if d.support:
            lead += f";配合单位:{'、'.join(d.support)}"
        comp.lines.append(f"{lead}[{n}]。")
        # quote the measure's most relevant sentence, unless it only repeats the measure's title
        sents = [s for s in sentences(h) if s.start >= d.measure_start and s.end <= d.end + 1 and not _is_heading(s)]
        top = max(sents, key=lambda s: coverage(words, weights, s.text) if words else 0.0) if sents else None
        title = measure_title(d.measure)
        deadline = f"(期限:{'、'.join(d.deadlines)})" if d.deadlines else ""
        detail = _strip_label(top.text) if top is not None else ""
        if _bare(detail) in ("", _bare(title)):
            comp.lines.append(f"对应措施:{title}{deadline}[{n}]。")
        elif title.endswith("…") and _bare(detail).startswith(_bare(title[:-1])):  # the title is the sentence, cut
            comp.lines.append(f"对应措施{deadline}:{_clip(detail, 160)}[{n}]")
        else:
            comp.lines.append(f"对应措施:{title}{deadline}。{_clip(detail, 160)}[{n}]")
        if not words:
            return
        other = next((c for c in candidates[1:] if set(c[3].lead) != set(d.lead) and c[2].chunk.doc_id == h.chunk.doc_id
                      and has_all(words, _note_sentence(c[2], c[3]))), None)  # the same document's other office
        if other is not None:
            _, _, h2, d2 = other
            m = self._cite_duty(h2, d2, comp)
            comp.lines.append(f"另一项相关措施“{measure_title(d2.measure)}”由{'、'.join(d2.lead)}牵头[{m}]。")
        if not a.places and not a.mentioned_places and not _names_own_place(a.normalized, docs.get(h.chunk.doc_id)):
            self._other_place(candidates, h, docs, comp)

    def _other_place(self, candidates, first: Hit, docs, comp: Composition) -> None:
        region = lambda doc_id: docs[doc_id].meta.region if doc_id in docs else UNKNOWN  # noqa: E731
        best_cov = candidates[0][1]
        other = next((c for c in candidates[1:] if region(c[2].chunk.doc_id) not in (UNKNOWN, region(first.chunk.doc_id))
                      and c[1] >= OTHER_PLACE_COVERAGE * best_cov), None)
        label1, label2 = (_doc_label(docs.get(x)) for x in (first.chunk.doc_id, other[2].chunk.doc_id if other else ""))
        if other is None or not label1 or not label2:
            return
        _, _, h2, d2 = other
        m = self._cite_duty(h2, d2, comp)
        support = f";配合单位:{'、'.join(d2.support)}" if d2.support else ""
        comp.lines.insert(0, f"据{label1}:")
        comp.lines.append(f"另据{label2}:牵头单位:{'、'.join(d2.lead)}{support}(措施:{measure_title(d2.measure)})[{m}]。")

    @staticmethod
    def _cite_duty(h: Hit, d, comp: Composition) -> int:
        """Cite a measure together with its responsibility note."""
        return comp.cite(h.chunk.text[d.measure_start - h.chunk.start: d.end - h.chunk.start], d.measure_start, d.end,
                          h.chunk, h.title)

    def _metadata_all(self, fields: list[str], ev: Evidence, comp: Composition) -> bool:
        """Every metadata field the question asks for ("文号和落款日期"), then, when the question
        asks more than the fields ("…主题要写什么"), the sentence that answers the rest."""
        answered = [f for f in fields if self._metadata(f, ev.hits, ev.docs, ev.ctx, comp, ev.analysis.normalized)]
        if not answered:
            return False
        rest = [w for w in ev.words if not any(w in line for line in comp.lines)]
        clauses = re.split(r"[,，;；?？。]", ev.analysis.normalized)
        asks_more = any(re.search(r"什么|哪|多少|几|谁|怎么", c) and not metadata_fields(c) for c in clauses)
        if rest and asks_more:  # "…发到哪个邮箱?主题要写什么?": the other question too
            ranked = self._rank_sentences(ev.hits, rest, ev.weights, ev.analysis.qtype, question=ev.analysis.normalized)
            if ranked and coverage(rest, ev.weights, ranked[0].text) >= 0.34 and all(
                    ranked[0].start != s for _, s, _, _, _ in comp.cited):
                s = ranked[0]
                n = comp.cite(s.text, s.start, s.end, s.chunk, s.hit.title)
                comp.lines.append(f"{_clip(_strip_label(s.text), 200)}[{n}]")
        return True

    def _metadata(self, field_name: str, hits, docs, ctx: AnswerContext, comp: Composition, question: str = "") -> bool:
        """Answer from the document's metadata, citing the line of the text where it stands (a
        value read from the page's header table, which is not body text, cites the title line)."""
        if field_name == "recipient":
            return self._recipient(hits, docs, ctx, comp)
        if field_name == "issuer" and self._drafter(question, hits, docs, ctx, comp):
            return True
        record = next((docs[h.chunk.doc_id] for h in hits[:5] if h.chunk.doc_id in docs
                       and getattr(docs[h.chunk.doc_id].meta, field_name, UNKNOWN) != UNKNOWN), None)
        if record is None:
            return False
        value = getattr(record.meta, field_name)
        document = ctx.document(record.doc_id)
        if document is None:
            return False
        pos = -1
        for needle in _meta_needles(field_name, value, record.meta):
            pos = document.text.find(needle) if needle else -1
            if pos >= 0:
                break
        if pos < 0:  # only in the page's header table: stated, with the document's title line cited
            return self._cite_head(document, record, ctx, comp,
                                   f"{META_LABELS[field_name]}:{_meta_display(field_name, value)}(据页面所载文件信息)")
        line_start = document.text.rfind("\n", 0, pos) + 1
        line_end = document.text.find("\n", pos)
        line_end = len(document.text) if line_end < 0 else line_end
        line = document.text[line_start:line_end]
        chunk = next((c for c in ctx.doc_chunks(record.doc_id) if c.start <= pos < c.end), None)
        if chunk is None:
            return False
        n = comp.cite(line, line_start, line_end, chunk, record.meta.title)
        comp.lines.append(f"{META_LABELS[field_name]}:{_meta_display(field_name, value)}[{n}]。")
        if not any(f"《{record.meta.title}》:" in x for x in comp.lines):
            comp.lines.append(f"《{record.meta.title}》:{_clip(line, 160)}[{n}]")
        return True

    @staticmethod
    def _drafter(q: str, hits, docs, ctx: AnswerContext, comp: Composition) -> bool:
        """Who drafted a document (哪个单位起草的), which is not who issued it: the body the text
        says wrote it ("县司法局在深入调研的基础上起草了《实施方案》", "现将县政府法制办制定的《…》")."""
        asked = next(((v, label) for k, v, label in _DRAFT_VERBS if re.search(k, q)), None)
        if asked is None:
            return False
        verbs, label = asked
        for h in hits[:5]:
            record = docs.get(h.chunk.doc_id)
            document = ctx.document(h.chunk.doc_id) if record is not None else None
            if document is None:
                continue
            for m in re.finditer(rf"(?P<body>{_DRAFT_BODY})(?:在[^,。;\n]{{1,12}}?|会同[^,。;\n]{{1,12}}?)?"
                                 rf"(?:牵头|负责|组织)?(?:{verbs})", document.text):
                line_start = max(document.text.rfind(c, 0, m.start()) for c in "。\n") + 1
                line_end = min([i for i in (document.text.find(c, m.end()) for c in "。\n") if i >= 0] or
                               [len(document.text)])
                line_end += document.text[line_end:line_end + 1] == "。"
                chunk = next((c for c in ctx.doc_chunks(record.doc_id) if c.start <= m.start() < c.end), None)
                if chunk is None:
                    continue
                line = document.text[line_start:line_end].strip()
                line_start = document.text.find(line, line_start)
                n = comp.cite(line, line_start, line_start + len(line), chunk, record.meta.title)
                body = re.sub(_DRAFT_LEAD, "", m.group("body"))
                comp.lines.append(f"{label}:{body}[{n}]。")
                comp.lines.append(f"《{record.meta.title}》:{_clip(line, 160)}[{n}]")
                return True
        return False

    @staticmethod
    def _cite_head(document, record, ctx: AnswerContext, comp: Composition, statement: str) -> bool:
        """State `statement` citing the document's first line (its title, in most documents)."""
        chunks = ctx.doc_chunks(record.doc_id)
        if not chunks or not document.text:
            return False
        end = document.text.find("\n")
        end = len(document.text) if end < 0 else end
        first = chunks[0]
        if not (first.start <= 0 < first.end) or end <= 0:
            return False
        n = comp.cite(document.text[:end], 0, end, first, record.meta.title)
        comp.lines.append(f"{statement}[{n}]。")
        return True

    @staticmethod
    def _recipient(hits, docs, ctx: AnswerContext, comp: Composition) -> bool:
        """To whom a report or notice is addressed: the salutation line near its top
        ("六安市人民政府:")."""
        for h in hits[:5]:
            record = docs.get(h.chunk.doc_id)
            document = ctx.document(h.chunk.doc_id) if record is not None else None
            if document is None:
                continue
            m = re.search(META_PATTERNS["recipient"], document.text[:1500])
            if m is None:
                continue
            s = m.start() + (1 if document.text[m.start()] == "\n" else 0)
            e = document.text.find("\n", s)
            e = len(document.text) if e < 0 else e
            chunk = next((c for c in ctx.doc_chunks(record.doc_id) if c.start <= s < c.end), None)
            if chunk is None:
                continue
            name = document.text[s:e].rstrip(":: ")
            n = comp.cite(document.text[s:e], s, e, chunk, record.meta.title)
            comp.lines.append(f"{META_LABELS['recipient']}:{name}[{n}]。")
            return True
        return False

    def _comparison(self, a: "Analysis", standalone: str, hits, words, weights, docs, ctx: AnswerContext, comp: Composition) -> bool:
        """One cited line per place named in the question (or per document among the hits)."""
        groups: list[set[str]] = list(a.place_docs.values())
        if len(groups) < 2:
            groups = [{d} for d in dict.fromkeys(h.chunk.doc_id for h in hits)]
        if len(groups) < 2:
            return False
        for doc_ids in groups[:4]:
            doc_hits = [h for h in hits if h.chunk.doc_id in doc_ids]
            if not doc_hits:  # the place's documents did not make the shared top-k: ask them directly
                for d in sorted(doc_ids):
                    doc_hits += ctx.search_doc(standalone, 3, d).hits
            ranked = self._rank_sentences(doc_hits, words, weights, a.qtype, limit=3, question=a.normalized)
            if not ranked:
                continue
            s = ranked[0]
            n = comp.cite(s.text, s.start, s.end, s.chunk, s.hit.title)
            comp.lines.append(f"{_place_label(docs[s.chunk.doc_id].meta)}:{_clip(_strip_label(s.text), 200)}[{n}]")
        return len(comp.lines) >= 2


# ---------------------------------------------------------------- helpers

_NAME_ASKED_RE = re.compile(r"叫什么|叫啥|名称|名字|什么平台|什么系统|哪个平台|哪个系统|什么品牌|什么称号")
_DATE_ASKED_RE = re.compile(r"哪天|哪一天|几月几日|几号|什么日子|日期")
_QUOTED_NAME_RE = re.compile(r"“[^”]{2,30}”|《[^》]{2,40}》|「[^」]{2,30}」")
_DAY_RE = re.compile(r"\d{1,2}月\d{1,2}日")
_SPAN_ASKED_RE = re.compile(r"多久|多长时间|多少时间|几天|多少天|多少个工作日|几个工作日")
_SPAN_RE = re.compile(r"\d+\s*(?:个)?(?:工作日|日|天|个月|小时)(?:内|以内|之内)?")
_WHERE_ASKED_RE = re.compile(r"哪(?:里|儿)(?!些)|什么地方")
_WHERE_RE = re.compile(r"(?:到|在|向|至)[^,。;,;]{2,24}(?:窗口|中心|大厅|服务站|服务点|办公室|地址|楼)")


# (what the question asks, the verbs that answer it): drafting is not issuing (印发)
_DRAFT_VERBS = [  # (asked, answered by, label)
    (r"起草|草拟|拟定|拟稿", "起草|草拟|拟定", "起草单位"),
    (r"(?:哪个|哪些|什么)(?:部门|单位|机关|机构)?(?:负责|牵头)?制定|谁制定|由谁制定|制定单位", "制定|起草", "制定单位"),
    (r"(?:哪个|哪些|什么)(?:部门|单位|机关|机构)?(?:负责|牵头)?编制|谁编制|编制单位", "编制|起草", "编制单位"),
]
_DRAFT_BODY = r"[\u4e00-\u9fff]{1,14}(?:局|办|委|厅|院|处|中心|办公室|司法所|政府)"
_DRAFT_LEAD = r"^(?:现将|现|将|由|经|请|是|为|并|已)+"


def _slot_pattern(question: str) -> re.Pattern | None:
    """What a sentence answering `question` must contain: a quoted name, a date, a count in
    the asked unit, a person's label (责任人:…); None when the question asks for none of them."""
    if _PERSON_ASKED_RE.search(question):
        return _PERSON_LABEL_RE
    if _NAME_ASKED_RE.search(question):
        return _QUOTED_NAME_RE
    if _DATE_ASKED_RE.search(question):
        return _DAY_RE
    unit = ASKED_UNIT_RE.search(question)
    if unit and unit.group(1) not in SPAN_UNITS:
        return re.compile(unit_pattern(unit.group(1)))
    if _SPAN_ASKED_RE.search(question) or unit:
        return _SPAN_RE
    if _WHERE_ASKED_RE.search(question) and not re.search(r"经费|资金|列支|从哪", question):
        return _WHERE_RE
    return None


def _meta_needles(field_name: str, value: str, meta) -> list[str]:
    if field_name == "date":
        y, m, d = (value.split("-") + ["", ""])[:3]
        out = [value]
        if m and d:
            out += [f"{int(y)}年{int(m)}月{int(d)}日", f"{y}年{m}月{d}日"]
        return out
    if field_name == "period":
        return [meta.title, value.split("-")[0]]
    return [value.split(",")[0].split("(")[0].split("、")[0]]


def _meta_display(field_name: str, value: str) -> str:
    if field_name == "date" and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        y, m, d = value.split("-")
        return f"{int(y)}年{int(m)}月{int(d)}日"
    if field_name == "period" and re.fullmatch(r"\d{4}-\d{4}", value):
        return f"{value}年"
    return value


CONTEXT_WEIGHT = 0.8  # how much of its whole sentence's coverage a part after a ";" keeps


def _clause_context(s: Sentence) -> str:
    """The text of `s`'s chunk from the start of its whole sentence (after the last 。 or line
    break before it) to its end: `s` itself unless it follows a ";" or ";"."""
    text, lo, hi = s.chunk.text, s.start - s.chunk.start, s.end - s.chunk.start
    start = max(text.rfind("。", 0, lo), text.rfind("\n", 0, lo), text.rfind("!", 0, lo), text.rfind("?", 0, lo)) + 1
    return text[start:hi]


_TITLES_RE = re.compile(r"《[^《》]*》")
_ASKING_RE = re.compile(r"[??]$|^问[::]")
# a speaker's label in a transcript: a role (主持人 覃丽娟:) or a post and a name (区司法局局长 韦海峰:);
# a lead-in ("重点抓好以下工作:") names no one
_SPEAKER_RE = re.compile(r"^(?:(?:主持人|发布人|发言人|记者|答|问)|[\u4e00-\u9fff]{0,12}(?:局长|主任|县长|区长|市长|书记|"
                         r"部长|处长|科长|镇长|乡长|所长|发言人))\s*[\u4e00-\u9fff]{0,4}\s*[::]$")
_PERSON = r"责任人|责任领导|牵头领导|分管领导|联系领导|包保领导"  # a person answering for a task, not an office
_PERSON_ASKED_RE = re.compile(_PERSON)
_PERSON_LABEL_RE = re.compile(rf"(?:{_PERSON})\s*[::]\s*\S")
_ENUMERATED_RE = re.compile(r"^(?:[一二三四五六七八九十]+是|其[一二三四五六七八九十])")
_HEADING_LABEL_RE = re.compile(r"^(?:[一二三四五六七八九十]+、|[(\uff08][一二三四五六七八九十\d]+[)\uff09]|\d+[.、])")


def _is_heading(s: Sentence) -> bool:
    """A heading line of the outline ("二、…存在的问题和困难"), not an answer."""
    local = s.start - s.chunk.start
    line_end = s.chunk.text.find("\n", local)
    whole_line = (local == 0 or s.chunk.text[local - 1] == "\n") and line_end == local + len(s.text)
    if not whole_line or len(s.text) > 40 or re.search(r"[。;!?]$", s.text):
        return False
    return bool(_HEADING_LABEL_RE.match(s.text)) or _bare(s.text) == _bare(s.hit.title)  # or the document's title


def _strip_label(text: str) -> str:
    return re.sub(r"^(?:\d{1,3}[.)\uff09、]|[(\uff08][\d一二三四五六七八九十]{1,3}[)\uff09])\s*", "", text)


def _note_sentence(h: Hit, d) -> str:
    """The sentence a responsibility note closes: what that office leads, in the document's words."""
    before = h.chunk.text[max(d.measure_start, h.chunk.start) - h.chunk.start: d.start - h.chunk.start]
    return re.split(r"[。;;!?]", before.rstrip("。;;!? "))[-1]


def _bare(text: str) -> str:
    """Text without punctuation or spaces, to tell whether two phrasings say the same."""
    return re.sub(r"[\s\W_]+", "", text)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _join(parts: list[str], limit: int) -> str:
    out, size = [], 0
    for p in parts:
        if out and size + len(p) > limit:
            break
        out.append(p)
        size += len(p)
    return "".join(out)


def _pieces(text: str, size: int = 12) -> Iterator[str]:
    for i in range(0, len(text), size):
        yield text[i:i + size]
