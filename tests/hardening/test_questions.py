"""Hardening: a matrix of odd questions through the CLI and the app, and any question at all
(hypothesis): an answer, a refusal or one clear line, never a traceback or an executable tag."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fakes import CORPUS, make_config
from support.hardening import IDS, QUESTIONS, TAG, one_line_error

from rag.records import Answer

pytestmark = [  # gradio's queue uses pandas options that pandas 3 deprecates (not our code)
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture()
def cli(run_cli):
    return run_cli


@pytest.mark.parametrize("question, expect", QUESTIONS, ids=IDS)
def test_odd_questions_in_the_cli(cli, question, expect):
    code, out, err = cli("ask", question)
    if expect == "message":
        assert code == 1 and out == "" and one_line_error(err), err
        assert "empty" in err or "punctuation" in err
        return
    assert code == 0 and out.strip() and err == "", err
    assert out.startswith("(问题过长,已截取前 2000 个字)") == (expect == "truncated")
    code, out, _ = cli("ask", question, "--json")
    (line,) = out.splitlines()
    a = json.loads(line)
    assert code == 0 and a["question"] == question and a["answer"]
    assert "\x1b" not in a["answer"] and "\u202e" not in a["answer"]


@pytest.fixture(scope="module")
def svc(corpus_index, tmp_path_factory):
    from rag.app.service import Service
    from rag.pipeline import Pipeline

    _, index_dir = corpus_index
    cfg = make_config(index_dir, CORPUS, **{"app.data_dir": str(tmp_path_factory.mktemp("var")),
                                            "answer.refusal_dense": 0})
    return Service(Pipeline.from_config(cfg, index_dir), cfg)


@pytest.mark.parametrize("question, expect", QUESTIONS, ids=IDS)
def test_odd_questions_in_the_app(svc, question, expect):
    from rag.app import view as view

    shown = view.question_html(question)  # the user's own message in the chat
    assert not TAG.search(shown) and "\n" not in shown
    events = list(svc.chat(question, []))
    last = events[-1]
    for e in events:
        assert not TAG.search(e.html) and "Traceback" not in e.html
    if expect == "message":
        assert last.kind == "error" and "请输入要查询的问题" in last.html
        return
    assert last.kind == "final" and last.turn["answer"], last.html
    assert ("问题过长,已截取前 2000 个字" in last.html) == (expect == "truncated")
    text, _ = svc.ask(question)
    assert text.startswith("(问题过长,已截取前 2000 个字)\n") == (expect == "truncated")


ODD = st.sampled_from(["\x00", "\x1b[2J", "\u202e", "\u200b", "<script>", "'; --", "{x}", "%s", "\n", "营业执照", "利通区",
                       "哪个部门", "2023年", "?", "。", "𠀀", "é", "Ж", "\ufeff", " "])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(ODD, st.text(max_size=8)), max_size=30).map("".join))
def test_any_question_gets_an_answer_or_a_question_error(pipeline, q):
    from rag.errors import QuestionError

    try:
        a = pipeline.ask(q)
    except QuestionError:
        return
    assert isinstance(a, Answer) and a.text
    for c in a.citations:
        assert pipeline.index.document(c.doc_id).text[c.start:c.end] == c.text
