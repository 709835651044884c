"""Evaluation metrics, reports, baseline and the naive pipeline, with hand-built fake systems.

Fast and offline: no real model. Every expected value below is worked out by hand from the toy
questions and rankings, so a change in any metric definition shows up here.
"""

from __future__ import annotations

import json

import pytest
from support.fakes import ROOT, BigramEmbedding

from rag.evaluation.baseline import check_thresholds, compare
from rag.evaluation.dataset import contains, fact_found, load_questions
from rag.evaluation.metrics import gold_rank, percentile
from rag.evaluation.report import (
    failed_questions_md,
    format_deltas,
    format_summary,
    write_reports,
)
from rag.evaluation.runner import _can_ask, evaluate_and_report, run, save_baseline
from rag.records import Answer, Chunk, Citation, Document, Hit

# ----------------------------------------------------------------------------- toy data

QUESTIONS = [
    {"id": "t1", "type": "fact", "question": "行政执法公示制度怎么推行?",
     "gold_quotes": ["全面推行行政执法公示制度"], "answer_facts": ["公示制度"],
     "answerable": True, "doc": "A"},
    {"id": "t2", "type": "department", "question": "收费清单制度由哪个部门牵头?",
     "gold_quotes": ["建立行政事业性收费清单制度"], "answer_facts": ["区财政局|财政局"],
     "answerable": True, "doc": "A"},
    {"id": "t3", "type": "comparison", "question": "甲乙两个方案的讲座次数有什么不同?",
     "gold_quotes": ["甲方案提出两期", "乙方案提出一期"], "answer_facts": ["两期", "一期"],
     "answerable": True, "doc": ["A", "B"], "gold_all": True},
    {"id": "t4", "type": "comparison", "question": "两个方案对2025年目标的共同表述?",
     "gold_quotes": ["政府行为全面纳入法治轨道"], "answer_facts": ["法治轨道"],
     "answerable": True, "doc": ["A", "B"], "gold_docs_min": 2},
    # Traditional characters and a full-width comma in both question and gold quote.
    {"id": "t5", "type": "traditional", "question": "什麼時候實現五級網上政務全覆蓋?",
     "gold_quotes": ["2023年底前，實現區市縣鄉村五級網上政務全覆蓋"], "answer_facts": ["2023年底"],
     "answerable": True, "doc": "B"},
    {"id": "t6", "type": "unanswerable", "question": "北京市的方案有哪些目标?",
     "gold_quotes": [], "answer_facts": [], "answerable": False, "doc": None},
    {"id": "t7", "type": "unanswerable", "question": "明天天气怎么样?",
     "gold_quotes": [], "answer_facts": [], "answerable": False, "doc": None,
     "note": "off-topic"},
]


def C(chunk_id: str, text: str, start: int, end: int) -> Chunk:
    return Chunk(chunk_id=chunk_id, doc_id=chunk_id.split("#")[0], section_path=(), text=text,
                 start=start, end=end)


A0 = C("A#0", "一、总则\n全面推行行政执法公示制度,执法全过程记录制度。", 0, 30)
A1 = C("A#1", "建立行政事业性收费清单制度(区财政局牵头,各有关部门配合)。", 30, 60)
A2 = C("A#2", "甲方案提出两期领导干部法治专题讲座。到2025年,政府行为全面纳入法治轨道。", 60, 100)
B0 = C("B#0", "乙方案提出一期培训班。到2025年,政府行为全面纳入法治轨道。", 0, 30)
B1 = C("B#1", "2023年底前,实现区市县乡村五级网上政务全覆盖。", 30, 60)
X0 = C("X#0", "无关内容:加强组织领导。", 0, 20)

# The best ranking for each question: t3 needs the union of ranks 1-3, t4 needs 2 docs (rank 3).
RANKING = {
    "t1": [A0, X0],
    "t2": [A1, A0],
    "t3": [A2, X0, B0],
    "t4": [A2, A1, B0],
    "t5": [B1],
    "t6": [X0],
    "t7": [X0],
}
BAD = Citation(n=9, doc_id="X", title="", section="", text="加强组织领导", start=0, end=20)


def cit(doc: str, text: str, start: int, end: int) -> Citation:
    return Citation(n=1, doc_id=doc, title="", section="", text=text, start=start, end=end)


def hits_of(chunks: list[Chunk]) -> list[Hit]:
    return [Hit(chunk=c, score=1.0 / i, rank=i) for i, c in enumerate(chunks, 1)]


class FakeSystem:
    def __init__(self, name: str, answers: dict | None = None, prepend: list[Chunk] = ()):
        self.name = name
        self.answers = answers
        self.prepend = list(prepend)
        self.by_text = {q["question"]: q["id"] for q in QUESTIONS}

    def search(self, question: str, k: int) -> list[Hit]:
        return hits_of(self.prepend + RANKING[self.by_text[question]])[:k]

    def ask(self, question: str) -> Answer:
        text, refused, citations = self.answers[self.by_text[question]]
        return Answer(question=question, text=text, refused=refused, citations=citations)


PERFECT_ANSWERS = {
    "t1": ("全面推行行政执法公示制度。", False, [cit("A", "全面推行行政执法公示制度,执法全过程记录制度。", 5, 30)]),
    "t2": ("由区财政局牵头。", False, [cit("A", "区财政局牵头", 44, 50)]),
    "t3": ("甲方案两期,乙方案一期。", False,
           [cit("A", "甲方案提出两期领导干部法治专题讲座。", 60, 78), cit("B", "乙方案提出一期培训班。", 0, 11)]),
    # The cited text holds neither quote nor fact: supported only because it overlaps chunk A#2.
    "t4": ("都要求政府行为全面纳入法治轨道。", False, [cit("A", "到2025年,", 78, 85)]),
    "t5": ("2023年底前。", False, [cit("B", "2023年底前,实现区市县乡村五级网上政务全覆盖。", 30, 55), BAD]),
    "t6": ("文件没有提到这个问题。", True, []),
    "t7": ("文件没有提到这个问题。", True, []),
}
EAGER_ANSWERS = {  # never refuses
    "t1": ("全面推行行政执法公示制度。", False, [BAD]),
    "t2": ("财政局负责。", False, []),  # the second alternative of 区财政局|财政局
    "t3": ("两期。", False, []),  # one fact of two
    "t4": ("法治轨道。", False, []),
    "t5": ("2023年底。", False, []),
    "t6": ("北京的目标是……", False, [BAD]),
    "t7": ("晴天。", False, [BAD]),
}
SECOND_ANSWERS = {  # refuses t5 (answerable)
    "t1": PERFECT_ANSWERS["t1"],
    "t2": PERFECT_ANSWERS["t2"],
    "t3": ("甲方案两期,乙方案一期。", False, []),
    "t4": PERFECT_ANSWERS["t4"],
    "t5": ("没有找到相关内容。", True, [BAD]),
    "t6": PERFECT_ANSWERS["t6"],
    "t7": PERFECT_ANSWERS["t7"],
}


class NoAsk:
    name = "noask"

    def search(self, question, k):
        return FakeSystem("x").search(question, k)


class AskNone(NoAsk):
    name = "asknone"
    ask = None


@pytest.fixture()
def qpath(tmp_path):
    p = tmp_path / "questions.jsonl"
    p.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in QUESTIONS) + "\n", encoding="utf-8")
    return p


@pytest.fixture()
def questions(qpath):
    return load_questions(qpath)


def systems():
    return [FakeSystem("ours", PERFECT_ANSWERS), FakeSystem("second", SECOND_ANSWERS, prepend=[X0]),
            FakeSystem("eager", EAGER_ANSWERS), NoAsk(), AskNone()]


@pytest.fixture()
def result(questions):
    return run(questions, systems(), k=10)


def overall(result, system):
    return result.tables[system]["overall"]


# ----------------------------------------------------------------------------- loading

def test_load_questions_fields(questions):
    assert [q.id for q in questions] == [f"t{i}" for i in range(1, 8)]
    t3, t4 = questions[2], questions[3]
    assert t3.gold_all is True and t3.gold_docs_min == 0
    assert t4.gold_all is False and t4.gold_docs_min == 2
    assert questions[6].note == "off-topic" and questions[6].answerable is False


@pytest.mark.parametrize("line, message", [
    ('{"id": "x1", "type": "fact"', "line 2: invalid JSON"),
    ('{"id": "x1", "type": "fact", "question": "q"}', "line 2: missing keys gold_quotes"),
    ('{"id": "t1", "type": "fact", "question": "q", "gold_quotes": ["a"], "answer_facts": [],'
     ' "answerable": true, "doc": "A"}', "duplicate id"),
    ('{"id": "x1", "type": "fact", "question": "q", "gold_quotes": [], "answer_facts": [],'
     ' "answerable": "yes", "doc": null}', "answerable must be true or false"),
    ('{"id": "x1", "type": "fact", "question": "q", "gold_quotes": [], "answer_facts": [],'
     ' "answerable": true, "doc": null, "gold_al": true}', "unknown keys gold_al"),
])
def test_load_questions_errors_name_the_line(tmp_path, line, message):
    p = tmp_path / "bad.jsonl"
    p.write_text(json.dumps(QUESTIONS[0], ensure_ascii=False) + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_questions(p)


def test_real_question_set_loads():
    qs = load_questions(ROOT / "eval" / "questions.jsonl")
    types = {"fact", "department", "deadline", "target", "metadata", "comparison", "traditional", "colloquial",
             "unanswerable"}
    assert len(qs) >= 80 and {q.type for q in qs} == types
    assert all(sum(q.type == t for q in qs) >= 8 for t in types)  # each type well represented
    assert sum(not q.answerable for q in qs) >= 0.15 * len(qs)
    assert all(q.answerable == (q.type != "unanswerable") for q in qs)
    assert len({q.id for q in qs}) == len(qs)


# ----------------------------------------------------------------------------- matching

def test_normalised_matching_traditional_and_full_width():
    assert contains("2023年底前,实现区市县乡村五级网上政务全覆盖。", "2023年底前，實現區市縣鄉村五級網上政務全覆蓋")
    assert contains("实现区市县\n乡村五级", "实现 区市县乡村")
    assert not contains("实现区市县乡村五级", "实现区市乡村")
    assert not contains("任何文本", "")
    assert fact_found("财政局负责", "区财政局|财政局")
    assert not fact_found("财政负责", "区财政局|财政局")


def test_gold_rank_rules(questions):
    t1, t3, t4 = questions[0], questions[2], questions[3]
    assert gold_rank(t1, hits_of([X0, X0, A0]))[0] == 3
    assert gold_rank(t1, hits_of([X0]))[0] is None
    # gold_all: rank where the last quote is covered
    assert gold_rank(t3, hits_of([A2, X0, B0]))[0] == 3
    assert gold_rank(t3, hits_of([A2, A2]))[0] is None
    # gold_docs_min: two gold chunks of the same document are not enough
    dup = C("A#9", "到2025年,政府行为全面纳入法治轨道。", 100, 120)
    assert gold_rank(t4, hits_of([A2, dup]))[0] is None
    rank, matched, docs, flags = gold_rank(t4, hits_of([A2, dup, X0, B0]))
    assert (rank, matched, docs, flags) == (4, ["政府行为全面纳入法治轨道"], ["A", "B"], [True, True, False, True])


# ----------------------------------------------------------------------------- retrieval metrics

def test_retrieval_metrics_perfect(result):
    o = overall(result, "ours")
    # ranks: t1 1, t2 1, t3 3 (gold_all), t4 3 (2 docs), t5 1 (traditional quote)
    assert [r.retrieval.rank for r in result.records["ours"] if r.retrieval] == [1, 1, 3, 3, 1]
    assert o["hit@1"] == pytest.approx(0.6)
    assert o["hit@3"] == pytest.approx(1.0)
    assert o["hit@5"] == pytest.approx(1.0)
    assert o["mrr@10"] == pytest.approx((1 + 1 + 1 / 3 + 1 / 3 + 1) / 5)
    assert o["n_answerable"] == 5 and o["n"] == 7
    comp = result.tables["ours"]["by_type"]["comparison"]
    assert comp["hit@1"] == 0.0 and comp["mrr@10"] == pytest.approx(1 / 3)
    # unanswerable questions take no part in retrieval metrics
    assert result.tables["ours"]["by_type"]["unanswerable"]["mrr@10"] is None
    assert result.records["ours"][5].retrieval is None


def test_retrieval_metrics_gold_second(result):
    o = overall(result, "second")
    assert [r.retrieval.rank for r in result.records["second"] if r.retrieval] == [2, 2, 4, 4, 2]
    assert o["hit@1"] == 0.0
    assert o["hit@3"] == pytest.approx(0.6)
    assert o["hit@5"] == pytest.approx(1.0)
    assert o["mrr@10"] == pytest.approx((0.5 * 3 + 0.25 * 2) / 5)


def test_mrr_counts_only_top_10(questions):
    late = FakeSystem("late", prepend=[X0] * 10)
    res = run(questions[:1], [late], k=20)
    rec = res.records["late"][0].retrieval
    assert rec.rank == 11 and rec.rr == 0.0 and not rec.hit_at_5
    assert res.tables["late"]["overall"]["mrr@10"] == 0.0


# ----------------------------------------------------------------------------- answer metrics

def test_answer_metrics_perfect(result):
    o = overall(result, "ours")
    assert o["fact_recall"] == pytest.approx(1.0)
    assert o["fully_right"] == pytest.approx(1.0)
    assert o["refusal_acc"] == pytest.approx(1.0)
    assert (o["missed_refusals"], o["missed_refusal_rate"]) == (0, 0.0)
    assert (o["false_refusals"], o["false_refusal_rate"]) == (0, 0.0)
    # 7 citations over answerable answers; BAD (t5) is the only unsupported one; t4's is
    # supported by overlapping the gold chunk A#2 only
    assert o["citation_precision"] == pytest.approx(6 / 7)
    t4 = result.records["ours"][3].answer
    assert [c["supported"] for c in t4.citations] == [True]
    assert o["cited_answers"] == pytest.approx(1.0)


def test_answer_metrics_never_refuses(result):
    o = overall(result, "eager")
    assert o["fact_recall"] == pytest.approx((1 + 1 + 0.5 + 1 + 1) / 5)  # 财政局 alternative counts
    assert o["fully_right"] == pytest.approx(4 / 7)
    assert o["refusal_acc"] == pytest.approx(5 / 7)
    assert (o["missed_refusals"], o["missed_refusal_rate"]) == (2, 1.0)
    assert (o["false_refusals"], o["false_refusal_rate"]) == (0, 0.0)
    assert o["citation_precision"] == 0.0  # only BAD is cited on answerable questions
    assert o["cited_answers"] == pytest.approx(1 / 5)
    t3 = result.records["eager"][2].answer
    assert t3.facts_found == ["两期"] and t3.facts_missing == ["一期"]
    assert result.records["eager"][5].answer.citations[0]["supported"] is None  # not judged


def test_answer_metrics_false_refusal(result):
    o = overall(result, "second")
    assert o["fact_recall"] == pytest.approx(4 / 5)
    assert o["fully_right"] == pytest.approx(6 / 7)
    assert o["refusal_acc"] == pytest.approx(6 / 7)
    assert (o["missed_refusals"], o["missed_refusal_rate"]) == (0, 0.0)
    assert (o["false_refusals"], o["false_refusal_rate"]) == (1, pytest.approx(0.2))
    assert o["citation_precision"] == pytest.approx(1.0)  # the refused t5's BAD is not judged
    assert o["cited_answers"] == pytest.approx(3 / 4)
    unans = result.tables["second"]["by_type"]["unanswerable"]
    assert unans["false_refusal_rate"] is None and unans["missed_refusal_rate"] == 0.0


@pytest.mark.parametrize("name", ["noask", "asknone"])
def test_absent_answer_metrics_are_none(result, name):
    assert result.can_ask[name] is False
    o = overall(result, name)
    for m in ("fact_recall", "fully_right", "refusal_acc", "missed_refusals", "false_refusals",
              "citation_precision", "cited_answers", "ask_p50_ms"):
        assert o[m] is None, m
    assert o["mrr@10"] == pytest.approx(overall(result, "ours")["mrr@10"])
    assert all(r.answer is None and r.ask_ms is None for r in result.records[name])


def test_latency_is_measured(result):
    o = overall(result, "ours")
    assert o["search_p50_ms"] is not None and o["search_p95_ms"] >= o["search_p50_ms"] >= 0
    assert o["ask_p95_ms"] >= o["ask_p50_ms"] >= 0
    assert percentile([1, 2, 3, 4], 50) == 2.5 and percentile([10], 95) == 10
    assert percentile([], 50) is None


def test_errors_are_recorded_not_raised(questions):
    class Broken(NoAsk):
        name = "broken"

        def search(self, question, k):
            raise RuntimeError("index missing")

    res = run(questions, [Broken()], k=10)
    assert res.tables["broken"]["overall"]["errors"] == 7
    assert res.tables["broken"]["overall"]["hit@5"] == 0.0
    assert "RuntimeError: index missing" in res.records["broken"][0].error
    assert "raised on 7 question(s)" in format_summary(res)


def test_run_rejects_duplicate_names(questions):
    with pytest.raises(ValueError, match="distinct"):
        run(questions, [NoAsk(), NoAsk()])


# ----------------------------------------------------------------------------- reports

def test_write_reports(result, tmp_path):
    result.questions_path = "questions.jsonl"
    paths = write_reports(result, tmp_path / "reports", {"chunks": 6}, {"k": 10})
    data = json.loads(paths.json.read_text(encoding="utf-8"))
    assert data["primary_metric"] == "mrr@10" and data["main_system"] == "ours"
    assert data["tables"]["ours"]["overall"]["mrr@10"] == pytest.approx(11 / 15)
    assert data["tables"]["noask"]["overall"]["fact_recall"] is None
    assert data["tables"]["second"]["by_type"]["comparison"]["hit@3"] == 0.0
    assert len(data["records"]["ours"]) == 7 and data["records"]["ours"][2]["retrieval"]["rank"] == 3
    assert data["manifest"] == {"chunks": 6} and data["config"] == {"k": 10}
    assert data["questions"]["hash"] == result.questions_hash and data["questions"]["count"] == 7

    md = paths.md.read_text(encoding="utf-8")
    assert "| type | n | hit@1 ours | hit@1 second | hit@1 eager | hit@1 noask | hit@1 asknone |" in md
    assert "| **overall** | 5 | 0.600 | 0.000 |" in md
    assert "No answer metrics for: noask, asknone." in md
    assert "## Failed questions (ours)" in md
    assert "primary metric: **mrr@10**" in md
    assert paths.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert paths.json.stem == paths.md.stem == paths.png.stem


def test_failed_questions_list_main_system(questions, tmp_path):
    res = run(questions, [FakeSystem("eager", EAGER_ANSWERS, prepend=[X0] * 5)], k=10)
    md = failed_questions_md(res)
    assert "### Retrieval: gold not in the top 5 (5)" in md
    assert "**t3** (comparison)" in md and "criterion met at rank 8" in md
    assert "first: X#0 「无关内容:加强组织领导。」" in md
    assert "### Answers not fully right (3)" in md
    assert "missing 「一期」" in md and "answered instead of refusing" in md


def test_baseline_compare_flags_regression(questions, tmp_path):
    good = run(questions, [FakeSystem("ours", PERFECT_ANSWERS)], k=10)
    base = save_baseline(good, tmp_path / "baseline.json", manifest={"index": "v1"})
    worse = run(questions, [FakeSystem("ours", SECOND_ANSWERS, prepend=[X0])], k=10)
    worse.manifest = {"index": "v1"}
    deltas = compare(worse, base)
    by = {(d.scope, d.metric): d for d in deltas}
    d = by[("overall", "mrr@10")]
    assert d.diff == pytest.approx(0.4 - 11 / 15, abs=1e-6) and d.regression and d.arrow == "▼"
    assert by[("overall", "false_refusal_rate")].regression  # lower is better: a rise regresses
    assert not by[("overall", "hit@5")].regression and by[("overall", "hit@5")].diff == 0.0
    assert deltas.notes == []
    text = format_deltas(deltas)
    assert "REGRESSION" in text and "▼ -0.333" in text
    # the reverse direction: retrieval improves; citation precision (1.0 → 6/7) regresses
    back = {(x.scope, x.metric): x for x in compare(good, save_baseline(worse, tmp_path / "b2.json"))}
    assert back[("overall", "mrr@10")].arrow == "▲" and not back[("overall", "mrr@10")].regression
    assert [k for k, x in back.items() if x.regression and k[0] == "overall"] == [("overall", "citation_precision")]


def test_baseline_notes_other_questions_and_manifest(questions, tmp_path):
    good = run(questions, [FakeSystem("ours", PERFECT_ANSWERS)], k=10)
    base = save_baseline(good, tmp_path / "baseline.json", manifest={"index": "v1", "model": "m"})
    other = run(questions[:5], [FakeSystem("ours", PERFECT_ANSWERS)], k=10)
    deltas = compare(other, base, manifest={"index": "v2", "model": "m"})
    text = format_deltas(deltas)
    assert "question set differs" in text
    assert "index manifest differs from the baseline's (keys: index)" in text


def test_compare_accepts_a_full_report(result, tmp_path):
    paths = write_reports(result, tmp_path, {}, {})
    deltas = compare(result, paths.json)
    assert deltas and not any(d.regression for d in deltas) and all(d.diff in (0.0, None) for d in deltas)


def test_check_thresholds(result, questions):
    assert check_thresholds(result, ["hit@5=0.8", "mrr@10=0.6"]) == []
    fails = check_thresholds(result, ["mrr@10=0.9", "hit@3>=1"])
    assert len(fails) == 1 and fails[0].startswith("mrr@10 = 0.733, required >= 0.9")
    second = run(questions, [FakeSystem("second", SECOND_ANSWERS, prepend=[X0])], k=10)
    assert len(check_thresholds(second, ["false_refusal_rate=0.1"])) == 1  # 0.2 > 0.1
    assert check_thresholds(second, ["false_refusal_rate=0.25"]) == []
    noask = run(questions, [NoAsk()], k=10)
    assert "absent" in check_thresholds(noask, ["fact_recall=0.5"])[0]
    with pytest.raises(ValueError, match=r"unknown metric 'hit@4'.*known: hit@1, hit@3, hit@5, mrr@10"):
        check_thresholds(result, ["hit@4=0.5"])
    with pytest.raises(ValueError, match="expected METRIC=VALUE"):
        check_thresholds(result, ["hit@5"])


def test_format_summary(result):
    text = format_summary(result)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("metric"))
    assert header.split() == ["metric", "ours", "second", "eager", "noask", "asknone"]
    mrr = next(line for line in lines if line.startswith("mrr@10 *"))
    assert mrr.split()[2:] == ["0.733", "0.400", "0.733", "0.733", "0.733"]
    fact = next(line for line in lines if line.startswith("fact_recall"))
    assert fact.split()[1:] == ["1.000", "0.800", "0.900", "—", "—"]


def test_evaluate_and_report(qpath, tmp_path):
    out, base = tmp_path / "reports", tmp_path / "baseline.json"
    res, text, code = evaluate_and_report(qpath, [FakeSystem("ours", PERFECT_ANSWERS), NoAsk()],
                                             out, base, {"m": 1}, {"c": 2}, save_baseline=True,
                                             fail_under=["hit@5=0.9"])
    assert code == 0 and base.exists() and "baseline saved" in text
    assert len(list(out.glob("*.json"))) == 1 and len(list(out.glob("*.png"))) == 1
    res2, text2, code2 = evaluate_and_report(
        qpath, [FakeSystem("ours", SECOND_ANSWERS, prepend=[X0])], out, base, {"m": 1}, {"c": 2},
        fail_under=["hit@1=0.5"])
    assert code2 == 1 and "FAIL: hit@1 = 0.000" in text2 and "REGRESSION" in text2
    assert len(list(out.glob("*.json"))) == 2  # a second report in the same second gets a suffix
    assert res2.report_paths.json != res.report_paths.json
    data = json.loads(res2.report_paths.json.read_text(encoding="utf-8"))
    assert data["baseline"]["regressions"] and data["threshold_failures"]
    with pytest.raises(ValueError, match="unknown metric"):  # checked before running anything
        evaluate_and_report(qpath, [NoAsk()], out, None, {}, {}, fail_under=["recall=1"])


# ----------------------------------------------------------------------------- naive pipeline

class CallCountingEmbedding(BigramEmbedding):
    """The shared fake embedding (support.fakes), counting query vs text calls."""

    dim: int = 64
    query_calls: int = 0
    text_calls: int = 0

    def _get_query_embedding(self, query: str) -> list[float]:
        self.query_calls += 1
        return self._vec(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        self.text_calls += 1
        return self._vec(text)


def _make_embedding():
    return CallCountingEmbedding(model_name="bigram-test")


DOC_LAW = ("\n  一、行政执法\n全面推行行政执法公示制度、执法全过程记录制度、重大执法决定法制审核制度。"
           "规范行政执法行为,严格执行行政执法人员持证上岗和资格管理制度。\n"
           "二、执法监督\n加强行政执法监督,完善行政执法责任制,落实行政执法案卷评查制度。" * 3)
DOC_WEB = ("一、网上政务\n推进网上政务服务平台建设,实现网上政务服务全覆盖,政务服务事项网上可办。"
           "推广政务服务移动端应用,让群众办事少跑腿。\n二、数据共享\n推进政务数据共享和电子证照应用。" * 3)


@pytest.fixture(scope="module")
def naive():
    from rag.evaluation.naive import NaivePipeline

    docs = [Document(doc_id="law", path="law.txt", text=DOC_LAW),
            Document(doc_id="web", path="web.txt", text=DOC_WEB)]
    return NaivePipeline(docs, _make_embedding(), chunk_size=64, chunk_overlap=8), docs


def test_naive_offsets_match_document_text(naive):
    pipe, docs = naive
    texts = {d.doc_id: d.text for d in docs}
    assert len(pipe.chunks) > 2  # several chunks per document at this size
    for chunk in pipe.chunks.values():
        assert texts[chunk.doc_id][chunk.start:chunk.end] == chunk.text and chunk.text
        assert chunk.section_path == ()
    assert not _can_ask(pipe) and pipe.name == "naive"


def test_naive_ranks_the_right_document_first(naive):
    pipe, _ = naive
    before = pipe.embed_model.query_calls
    hits = pipe.search("网上政务服务平台怎么建设?", k=3)
    assert pipe.embed_model.query_calls == before + 1  # the query side of the embedding is used
    assert hits[0].chunk.doc_id == "web" and [h.rank for h in hits] == [1, 2, 3]
    assert hits[0].score >= hits[-1].score
    assert pipe.search("行政执法公示制度和执法监督", k=2)[0].chunk.doc_id == "law"
    assert len(pipe.search("政务", k=100)) == len(pipe.chunks)


def test_naive_pipeline_evaluates(naive, tmp_path):
    pipe, _ = naive
    q = {"id": "n1", "type": "fact", "question": "网上政务服务平台怎么建设?",
         "gold_quotes": ["推进网上政务服务平台建设"], "answer_facts": ["全覆盖"], "answerable": True, "doc": "web"}
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps(q, ensure_ascii=False) + "\n", encoding="utf-8")
    res = run(load_questions(p), [pipe], k=10)
    assert res.tables["naive"]["overall"]["hit@5"] == 1.0
    assert res.tables["naive"]["overall"]["fact_recall"] is None


def test_splits_dialogues_and_refusal_rules(tmp_path):
    """Questions carry a split and an optional dialogue history; a system is asked the earlier
    turns first and the last one with that history; tables split dev/test and count refusals
    per rule, wrong ones (on answerable questions) apart."""
    from rag.evaluation.dataset import load_questions as load
    from rag.records import Answer

    path = tmp_path / "q.jsonl"
    rows = [
        {"id": "d1", "type": "fact", "question": "甲县哪年建成平台?", "gold_quotes": ["甲县2025年建成平台"],
         "answer_facts": ["2025年"], "answerable": True, "doc": "a01", "split": "dev"},
        {"id": "t1", "type": "fact", "question": "那乙县呢?", "gold_quotes": ["乙县2026年建成平台"],
         "answer_facts": ["2026年"], "answerable": True, "doc": "a02", "split": "test", "history": ["甲县哪年建成平台?"]},
        {"id": "t2", "type": "unanswerable", "question": "丙县呢?", "gold_quotes": [], "answer_facts": [],
         "answerable": False, "doc": None, "split": "test"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    qs = load(path)
    assert [q.split for q in qs] == ["dev", "test", "test"] and qs[1].history == ["甲县哪年建成平台?"]

    class Fake:
        name, follows_up = "fake", True
        seen: list = []

        def search(self, question, k, history=None):
            return []

        def ask(self, question, history=None):
            self.seen.append((question, list(history or [])))
            if question == "丙县呢?":
                return Answer(question, "资料中没有…", refused=True, refusal_rule="unknown_place")
            if question == "那乙县呢?":
                return Answer(question, "资料中没有…", refused=True, refusal_rule="low_coverage")
            return Answer(question, "2025年[1]")

    result = run(qs, [Fake()], k=5)
    assert Fake.seen[1] == ("甲县哪年建成平台?", []) and Fake.seen[2][0] == "那乙县呢?"
    assert Fake.seen[2][1] == [("user", "甲县哪年建成平台?"), ("assistant", "2025年[1]")]
    t = result.tables["fake"]
    assert t["by_split"]["dev"]["fully_right"] == 1.0 and t["by_split"]["test"]["refusal_acc"] == 0.5
    assert t["by_rule"] == {"low_coverage": {"refusals": 1, "wrong": 1, "right": 0},
                            "unknown_place": {"refusals": 1, "wrong": 0, "right": 1}}
    with pytest.raises(ValueError, match="split must be"):
        path.write_text(json.dumps({**rows[0], "split": "train"}, ensure_ascii=False), encoding="utf-8")
        load(path)


def test_a_fully_right_answer_is_short():
    from rag.evaluation.metrics import MAX_ANSWER_CHARS, answer_length

    assert answer_length("甲[1][2]乙") == 2 and MAX_ANSWER_CHARS == 400


def test_the_evaluation_corpus_is_synced_flat(tmp_path):
    from rag.evaluation.suite import sync_corpus

    a, b, target = tmp_path / "a", tmp_path / "b", tmp_path / "t"
    a.mkdir(), b.mkdir()
    (a / "x.txt").write_text("一", encoding="utf-8")
    (b / "y.md").write_text("二", encoding="utf-8")
    sync_corpus([a, b], target)
    assert sorted(p.name for p in target.iterdir()) == ["x.txt", "y.md"]
    (b / "y.md").unlink()
    (a / "x.txt").write_text("三", encoding="utf-8")
    sync_corpus([a, b], target)
    assert [p.name for p in target.iterdir()] == ["x.txt"] and (target / "x.txt").read_text(encoding="utf-8") == "三"
    (b / "x.txt").write_text("同名", encoding="utf-8")
    with pytest.raises(ValueError, match="two evaluation corpus folders"):
        sync_corpus([a, b], target)


def test_extended_question_set_follows_its_rules():
    """Gold quotes stand in their documents, ids are unique, the dev/test split follows the rule
    of eval/README.md (the held-out families h01–h60, q601–q799, q801–q899 and q901–q999, are dev), ≥ 25% unanswerable."""
    from eval.check_questions import validate

    errors, _, _ = validate(ROOT / "eval" / "questions_ext.jsonl", [ROOT / "data" / "docs", ROOT / "tests" / "fixtures" / "docs"])
    assert not errors, errors[:5]
    qs = [json.loads(line) for f in ("questions.jsonl", "questions_ext.jsonl")
          for line in (ROOT / "eval" / f).read_text(encoding="utf-8").splitlines()]
    assert len(qs) >= 300 and sum(not q["answerable"] for q in qs) >= 0.25 * len(qs)
    assert all(q["split"] == "dev" for q in qs if 601 <= int(q["id"][1:]) <= 799 or 801 <= int(q["id"][1:]) <= 899
               or 901 <= int(q["id"][1:]) <= 999)
