"""Hardening: feedback stays minimal, the launch is safe, and the running app (odd API
questions, no files handed out, login enforced, 50 concurrent users during a rebuild)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.app import launch
from support.fakes import CORPUS, ROOT, make_config
from support.hardening import IDS, QUESTIONS

from rag.errors import IndexProblem
from rag.index.builder import IndexBuilder
from rag.index.layout import MANIFEST

pytestmark = [  # gradio's queue uses pandas options that pandas 3 deprecates (not our code)
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def test_feedback_keeps_only_question_answer_and_citations(tmp_path):
    from rag.app.feedback import CITATION_KEYS, FEEDBACK_KEYS
    from rag.app.service import Service

    cfg = make_config(tmp_path / "none", **{"app.data_dir": str(tmp_path / "var")})
    svc = Service(IndexProblem("no index"), cfg)
    turn = {"question": "问题?", "answer": "回答[1]", "refused": False, "msg_index": 3, "index_version": "v-1",
            "user": "张三", "ip": "10.0.0.8", "session_hash": "abc", "headers": {"cookie": "secret"},
            "citations": [{"n": 1, "doc_id": "002_x", "title": "标题", "section": "一、总则", "text": "全文" * 100,
                           "start": 1, "end": 9, "page": 2, "email": "a@b.c"}]}
    svc.rate(turn, False)
    svc.rate(dict(turn, citations=[]), True)
    lines = [json.loads(x) for x in svc.feedback.feedback_path.read_text(encoding="utf-8").splitlines()]
    assert [x["rating"] for x in lines] == ["down", "up"]
    for x in lines:
        assert tuple(x) == FEEDBACK_KEYS
        assert all(tuple(c) == CITATION_KEYS for c in x["citations"])
    raw = svc.feedback.feedback_path.read_text(encoding="utf-8")
    for private in ("张三", "10.0.0.8", "abc", "secret", "a@b.c", "全文"):
        assert private not in raw
    draft = svc.draft(turn)
    assert set(draft) == {"id", "type", "question", "gold_quotes", "answer_facts", "answerable", "doc", "note"}
    assert "张三" not in svc.feedback.drafts_path.read_text(encoding="utf-8")


def test_the_app_listens_on_localhost_unless_a_login_is_configured():
    from rag.app.launch import check_launch, launch_kwargs
    from rag.config import load_config
    from rag.errors import UnsafeLaunch

    default = load_config(env={})
    assert default.app.host == "127.0.0.1" and launch_kwargs(default)["server_name"] == "127.0.0.1"
    assert launch_kwargs(default)["auth"] is None and launch_kwargs(default)["share"] is False
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.org"):
        with pytest.raises(UnsafeLaunch, match="RAG_APP_AUTH"):
            check_launch(load_config(env={"RAG_APP_HOST": host}))
    cfg = load_config(env={"RAG_APP_HOST": "0.0.0.0", "RAG_APP_AUTH": "amt:a-long-password"})
    check_launch(cfg)
    kw = launch_kwargs(cfg)
    assert kw["server_name"] == "0.0.0.0" and kw["auth"] == ("amt", "a-long-password")
    assert "a-long-password" not in json.dumps(cfg.to_dict())


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The app on a copy of the corpus with its own index (fake embedding), on a free local
    port, the real extractive answerer slowed a little so that answers overlap."""
    from types import SimpleNamespace

    from gradio_client import Client
    from support.fakes import Slowed

    from rag.app.ui import build_app
    from rag.pipeline import Pipeline, make_answer_stages

    root = tmp_path_factory.mktemp("live")
    docs = root / "docs"
    shutil.copytree(CORPUS, docs)
    cfg = make_config(root / "index", docs, **{"app.data_dir": str(root / "var"), "answer.refusal_dense": 0})
    IndexBuilder(cfg).build(docs, root / "index")
    pipe = Pipeline.from_config(cfg, root / "index")
    pipe.answerer = Slowed(make_answer_stages(cfg)[0], delay=0.01)
    demo = build_app(pipe, cfg)
    url = launch(demo, cfg)
    yield SimpleNamespace(url=url, demo=demo, svc=demo.rag_service, cfg=cfg, docs=docs, index=root / "index",
                          client=Client(url, verbose=False))
    demo.close()


@pytest.mark.parametrize("question, expect", QUESTIONS, ids=IDS)
def test_odd_questions_through_the_api(live, question, expect, capfd):
    if expect == "message":
        with pytest.raises(Exception) as raised:
            live.client.predict(question, "", "", api_name="/ask")
        message = str(raised.value)
        assert "请输入要查询的问题" in message and "\n" not in message and "Traceback" not in message
    else:
        text, cites = live.client.predict(question, "", "", api_name="/ask")
        assert text and isinstance(cites, list)
        assert text.startswith("(问题过长,已截取前 2000 个字)\n") == (expect == "truncated")
    assert "Traceback" not in capfd.readouterr().err  # nor in the server's log


def test_the_server_hands_out_no_files(live):
    """Gradio's file routes serve nothing from the disk: not the corpus, the index, the
    configuration or system files, however the path is written."""
    import urllib.error
    import urllib.request

    corpus_file = sorted(live.docs.iterdir())[0]
    paths = ["/etc/passwd", "../../etc/passwd", "%2Fetc%2Fpasswd", "..%2F..%2Fetc%2Fpasswd", str(corpus_file),
             str(live.index / MANIFEST), str(ROOT / "rag.toml"), "rag.toml", "README.md"]
    for path in paths:
        for route in ("gradio_api/file=", "file=", "gradio_api/static/", "static/", "gradio_api/file/"):
            try:
                with urllib.request.urlopen(live.url + route + path, timeout=10) as r:
                    body = r.read()
                    status = r.status
            except urllib.error.HTTPError as e:
                status, body = e.code, b""
            assert status != 200 or (b"root:" not in body and corpus_file.read_bytes()[:200] not in body
                                     and b"[app]" not in body), (route, path, status)


def test_a_login_is_enforced_when_configured(corpus_index, tmp_path):
    from gradio_client import Client

    from rag.app.ui import build_app
    from rag.pipeline import Pipeline

    _, index_dir = corpus_index
    cfg = make_config(index_dir, CORPUS, **{"app.auth": "tester:a-long-password", "app.data_dir": str(tmp_path),
                                            "answer.refusal_dense": 0})
    demo = build_app(Pipeline.from_config(cfg, index_dir), cfg)
    url = launch(demo, cfg)
    try:
        with pytest.raises(Exception):
            Client(url, verbose=False).predict("营业执照找哪个部门?", "", "", api_name="/ask")
        with pytest.raises(Exception):
            Client(url, auth=("tester", "wrong-password"), verbose=False)
        text, _ = Client(url, auth=("tester", "a-long-password"), verbose=False).predict(
            "营业执照找哪个部门?", "", "", api_name="/ask")
        assert "区市场监管局" in text
    finally:
        demo.close()


# 35 answerable questions (the document their answer must cite) and 15 the documents do not answer
LOAD_QUESTIONS = [
    ('《宁夏回族自治区法治政府建设实施方案(2021—2025年)》是由哪两个部门印发的?', '000', '自治区人民政府办公厅'),
    ('向记者介绍宁夏法治政府建设实施方案的是哪位官员?他是什么职务?', '000', '法治调研与督察局局长'),
    ('宁夏要求什么时候前实现区市县乡村五级网上政务全覆盖?', '000', '2023年底'),
    ('按宁夏的方案,哪一年要基本建成法治宁夏、法治政府、法治社会?', '000', '2035年'),
    ('宁夏这次的法治政府建设方案在框架上是怎么布局的?', '000', '八个方面体系'),
    ('宁夏方案讲的“一规划两实施方案”具体是指哪几个文件?', '000', '法治社会建设实施方案'),
    ('宁夏推行的审批服务“五办”都是哪五办?', '000', '马上办'),
    ('《全力建设服务型法治政府》这篇署名文章的作者是谁?', '001', '熊运浪'),
    ('萍乡把全市多少个执法部门、多少项监管执法事项纳入了监管?', '001', '2059项'),
    ('萍乡要求“双随机”监管事项覆盖率达到多少?', '001', '100%'),
    ('萍乡提出在哪一年前让法治政府建设督察工作实现全覆盖?', '001', '2025年'),
    ('萍乡把什么作为法治政府建设的重要目标?', '001', '让民作主'),
    ('萍乡在江西全省率先完成了哪项服务大厅建设?', '001', '免证办理'),
    ('哪篇文章提出要探索建立商事矛盾化解中心和行政争议化解中心?', '001', '萍乡'),
    ('利通区法治政府建设实施方案征求意见,电子版要发到哪个邮箱?', '002', '18095315505@163.com'),
    ('利通区方案是根据自治区哪份文件(文号)制定的?', '002', '宁党发〔2016〕21号'),
    ('利通区清理规范行政审批中介服务、整治“红顶中介”由哪些部门牵头?', '002', '区市场监管局'),
    ('利通区推行行政审批“一个窗口办理”归哪个单位牵头?', '002', '区政务服务中心'),
    ('行政事业性收费和政府性基金清单制度由哪个部门牵头?', '002', '区财政局'),
    ('利通区支持企业对外投资、推动装备技术走出去由哪个局牵头?', '002', '区工信局'),
    ('利通区生态环境保护责任追究制度由哪个部门牵头,哪些部门配合?', '002', '区环保和环卫管理局'),
    ('《陕西省法治政府建设实施方案(2021-2025年)》是哪个机构印发的?', '003', '中共陕西省委全面依法治省委员会'),
    ('印发陕西省法治政府建设实施方案的通知文号是多少?', '003', '陕法委发〔2021〕10号'),
    ('陕西省法治政府建设实施方案的印发日期是哪天?', '003', '2021年11月27日'),
    ('陕西综合行政执法改革对省级执法队伍是怎么规定的?', '003', '原则上不设行政执法队伍'),
    ('陕西的县(市、区)一般实行什么执法体制?', '003', '局队合一'),
    ('哪个文件规定设区市与市辖区原则上只设一个行政执法层级?', '003', '陕西'),
    ('陕西要建设的法治政府建设综合管理平台全称是什么?', '003', '陕西省法治政府建设综合管理平台'),
    ('五原县法治政府建设工作领导小组办公室设在哪个部门?', '004', '司法局'),
    ('五原县这份法治政府建设报告说的是哪一年的工作?', '004', '2022年'),
    ('“蒙速办”APP接入了多少个特色应用?访问量累计多少?', '004', '401.58万'),
    ('五原县梳理了多少项“蒙速办·一次办”事项,其中多少项延伸到乡镇办理?', '004', '105项'),
    ('五原县结合机构改革清理并公布了多少个执法主体?', '004', '49个'),
    ('五原县提升行政执法规范化水平专项行动有多少个单位参与、涉及多少执法人员?', '004', '46个'),
    ('五原县细化了多少个四级网格,配了多少网格员?', '004', '1402个'),
    ('北京市法治政府建设实施方案(2021-2025年)提出了哪些主要目标?', None, None),
    ('广东省要求哪年前建成行政执法与刑事司法衔接平台?', None, None),
    ('甘肃省法治政府建设实施方案是由哪个部门印发的?', None, None),
    ('五原县2019年度法治政府建设工作报告里提到了哪些问题?', None, None),
    ('陕西省法治政府建设实施方案(2026-2030年)的基本目标是什么?', None, None),
    ('个人所得税的税率是多少?', None, None),
    ('2023年宁夏高考录取分数线是多少?', None, None),
    ('明天吴忠市天气怎么样?', None, None),
    ('萍乡市细化了多少个四级网格、配备了多少网格员?', None, None),
    ('陕西省法治政府建设实施方案征求意见的联系人和邮箱是什么?', None, None),
    ('利通区2021-2025年法治政府建设实施方案有哪些新目标?', None, None),
    ('五原县法治政府建设工作领导小组办公室的联系电话是多少?', None, None),
    ('宁夏的方案要求行政复议案件办结率达到多少?', None, None),
    ('萍乡市法治政府建设实施方案的文号是多少?', None, None),
    ('呼和浩特市2022年认领了多少个电子证照?', None, None),
]


NEW_SECTION = "\n七、推进智慧普法\n(一)建设智慧普法云平台\n2030年底前建成全区智慧普法云平台,实现普法资源共享。(区司法局牵头,各有关部门配合)\n"


def _expected(cfg, index_dir) -> dict[str, tuple[str, list]]:
    """Each load question's answer, asked one at a time in this process (no server)."""
    from rag.app.service import Service
    from rag.pipeline import Pipeline

    svc = Service(Pipeline.from_config(cfg, index_dir), cfg)
    return {q: tuple(svc.ask(q)) for q, _, _ in LOAD_QUESTIONS}


def _clients(url: str, n: int) -> list:
    """n gradio clients, each its own session."""
    from gradio_client import Client

    with ThreadPoolExecutor(16) as ex:
        return list(ex.map(lambda _: Client(url, verbose=False), range(n)))


def _ask_all(clients: list, questions: list[str], answered: threading.Semaphore | None = None) -> dict[str, dict]:
    """Question i from client i, all at once; `answered` is released after each answer."""
    barrier = threading.Barrier(len(questions))

    def one(i: int) -> tuple[str, dict]:
        q = questions[i]
        barrier.wait()
        t0 = time.monotonic()
        try:
            out = {"answer": tuple(clients[i].predict(q, "", "", api_name="/ask"))}
        except Exception as e:  # recorded, asserted below
            out = {"error": f"{type(e).__name__}: {e}"}
        if answered is not None:
            answered.release()
        return q, dict(out, start=t0, end=time.monotonic())

    with ThreadPoolExecutor(len(questions)) as ex:
        return dict(ex.map(one, range(len(questions))))


@pytest.mark.slow
def test_fifty_concurrent_users_and_a_rebuild_under_load(live):
    """50 users at once, each with another question: all answered, none lost, each with the
    answer to its own question. Then 50 more while the index is rebuilt and swapped: none
    fails, each gets its answer from the old or the new version (never a mix), and questions
    after the swap see the new version."""
    questions = [q for q, _, _ in LOAD_QUESTIONS]
    assert len(set(questions)) == 50
    expected = _expected(live.cfg, live.index)
    assert len({text for text, _ in expected.values()}) >= 45  # distinct answers: a mix-up would show

    clients = _clients(live.url, 50)
    t0 = time.monotonic()
    got = _ask_all(clients, questions)
    first_round = time.monotonic() - t0
    assert len(got) == 50 and not [q for q, r in got.items() if "error" in r], got
    for q, doc, _ in LOAD_QUESTIONS:
        text, cites = got[q]["answer"]
        assert (text, cites) == expected[q], q
        if doc is None:
            assert text.startswith("资料中没有") and cites == [], q
        else:
            assert cites and {c["doc_id"][:3] for c in cites} == {doc}, q

    # a rebuild while the second round runs
    old_version = live.svc.index_version
    target = next(p for p in live.docs.iterdir() if p.name.startswith("002"))
    answered = threading.Semaphore(0)
    swap: dict = {}

    def rebuild():
        for _ in range(5):  # once the round is under way
            answered.acquire()
        target.write_text(target.read_text(encoding="utf-8") + NEW_SECTION, encoding="utf-8")
        swap["report"] = IndexBuilder(live.cfg).build(live.docs, live.index)
        swap["end"] = time.monotonic()

    builder = threading.Thread(target=rebuild)
    builder.start()
    got = _ask_all(clients, questions, answered)
    builder.join()
    report = swap["report"]
    assert report.count("updated") == 1 and report.count("unchanged") == 4
    assert not [q for q, r in got.items() if "error" in r], got
    assert any(r["start"] < swap["end"] < r["end"] for r in got.values())  # asked before, answered after
    assert any(r["end"] > swap["end"] for r in got.values())
    new_expected = _expected(live.cfg, live.index)
    for q in questions:
        assert got[q]["answer"] in (expected[q], new_expected[q]), q

    text, cites = live.client.predict("利通区智慧普法云平台什么时候建成?", "", "", api_name="/ask")
    assert "2030年底前" in text and cites[0]["doc_id"].startswith("002")
    assert live.svc.index_version == report.version != old_version
    assert time.monotonic() - t0 < 60, (first_round, time.monotonic() - t0)
