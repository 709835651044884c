"""The API beside the app (`rag.app.api`): the real server on a free port, the real `openai`
client for /v1, plain HTTP (httpx) for Dify's /retrieval. All offline, with the fake embedding.

Answers must equal `python -m rag ask --json` for the same question (the CLI run in-process with
the same configuration); follow-ups must equal the pipeline's answer with that history.
"""

from __future__ import annotations

import json
import threading
import time
from types import SimpleNamespace

import httpx
import pytest
from openai import OpenAI
from support.app import launch
from support.fakes import CORPUS, Slowed, make_config

pytestmark = [
    pytest.mark.slow,  # starts servers
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

KEY = "sk-rag-test-7f3a9c1e5b2d4680"
OTHER_KEY = "second-key-0123456789abcdef"
WRONG_KEY = "sk-wrong-key-d41d8cd98f00b204"
MODEL = "rag-extractive"
QUESTIONS = [
    "陕西要求哪年前建成两法衔接平台?",
    "在利通区办营业执照找哪个部门?",
    "五原县细化了多少个四级网格,配了多少网格员?",
    "明天吴忠市天气怎么样?",  # refused
]
FOLLOW_UP = ("在利通区办营业执照找哪个部门?", "那配合单位呢?")
CITATION_KEYS = {"n", "doc_id", "title", "section", "start", "end", "quote"}
META_KEYS = {"doc_id", "chunk_id", "section", "start", "end", "region", "province", "city", "level", "period",
             "doc_type", "issuer", "date", "doc_number"}


def _serve(pipe, cfg):
    from rag.app.ui import build_app

    demo = build_app(pipe, cfg)
    return demo, launch(demo, cfg)


@pytest.fixture(scope="module")
def api(corpus_index, tmp_path_factory):
    """The app and its API on a free port (two API keys), the extractive answerer slowed a
    little so that streaming is observable."""
    from rag.pipeline import Pipeline, make_answer_stages

    _, index_dir = corpus_index
    cfg = make_config(index_dir, CORPUS, **{"app.data_dir": str(tmp_path_factory.mktemp("var")),
                                            "api.keys": f"{KEY}, {OTHER_KEY}"})
    pipe = Pipeline.from_config(cfg, index_dir)
    pipe.answerer = Slowed(make_answer_stages(cfg)[0], delay=0.03)
    demo, url = _serve(pipe, cfg)
    yield SimpleNamespace(url=url, cfg=cfg, pipe=pipe, demo=demo,
                          client=OpenAI(base_url=url + "v1", api_key=KEY, max_retries=0),
                          http=httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60))
    demo.close()


@pytest.fixture()
def cli_answer(run_cli):
    def ask(question: str) -> dict:
        code, out, err = run_cli("ask", question, "--json")
        assert code == 0, err
        return json.loads(out)

    return ask


def _extra(obj, name):
    return (obj.model_extra or {}).get(name)


def _cli_citations(cli: dict) -> list[dict]:
    return [{"quote" if k == "text" else k: v for k, v in c.items()} for c in cli["citations"]]


# ------------------------------------------------------------------ /v1/models

def test_models_names_the_configured_answerer(api):
    assert [m.id for m in api.client.models.list().data] == [MODEL]
    raw = api.http.get("/v1/models").json()
    assert raw["object"] == "list" and raw["data"][0]["object"] == "model" and raw["data"][0]["owned_by"] == "rag"


# ------------------------------------------------------------------ answers

@pytest.mark.parametrize("question", QUESTIONS)
def test_answer_equals_the_cli(api, cli_answer, question):
    cli = cli_answer(question)
    r = api.client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}])
    choice = r.choices[0]
    assert r.object == "chat.completion" and r.model == MODEL and r.id.startswith("chatcmpl-")
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert choice.message.content == cli["answer"]
    assert _extra(choice, "refused") is cli["refused"]
    assert _extra(choice, "citations") == _cli_citations(cli)
    assert all(set(c) == CITATION_KEYS for c in _extra(choice, "citations"))
    assert r.usage.completion_tokens == len(cli["answer"])
    if cli["refused"]:
        assert choice.message.content.startswith("资料中没有") and _extra(choice, "citations") == []
    else:
        doc = api.pipe.index.document(cli["citations"][0]["doc_id"])
        c = _extra(choice, "citations")[0]
        assert doc.text[c["start"]:c["end"]] == c["quote"]


@pytest.mark.parametrize("question", QUESTIONS[:1] + QUESTIONS[-1:])
def test_streamed_answer_equals_the_cli(api, cli_answer, question):
    cli = cli_answer(question)
    t0, pieces, finals, usage = time.monotonic(), [], [], []
    for chunk in api.client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": question}],
                                                    stream=True, stream_options={"include_usage": True}):
        assert chunk.object == "chat.completion.chunk" and chunk.model == MODEL
        if not chunk.choices:
            usage.append(chunk.usage)
            continue
        c = chunk.choices[0]
        if c.delta.content:
            pieces.append((time.monotonic() - t0, c.delta.content))
        if c.finish_reason:
            finals.append(c)
    assert "".join(p for _, p in pieces) == cli["answer"]
    (final,) = finals
    assert final.finish_reason == "stop" and _extra(final, "refused") is cli["refused"]
    assert _extra(final, "citations") == _cli_citations(cli)
    assert usage and usage[-1].completion_tokens == len(cli["answer"])
    if not cli["refused"]:  # sent as composed, not after the whole answer
        assert len(pieces) > 3 and pieces[-1][0] - pieces[0][0] > 0.05


def test_the_stream_is_server_sent_events_ending_with_done(api):
    body = {"model": MODEL, "stream": True, "messages": [{"role": "user", "content": QUESTIONS[0]}]}
    with api.http.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        text = r.read().decode("utf-8")
    events = [e for e in text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events) and events[-1] == "data: [DONE]"
    first = json.loads(events[0][6:])
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": ""}


def test_a_follow_up_is_answered_with_the_conversation(api):
    """Turn two ("那配合单位呢?") is asked with turn one as history: the answer equals the
    pipeline's with that history (what the page gives), not the one without."""
    first, second = FOLLOW_UP
    messages = [{"role": "system", "content": "你是助手。"}, {"role": "user", "content": first}]
    a1 = api.client.chat.completions.create(model=MODEL, messages=messages).choices[0].message.content
    messages += [{"role": "assistant", "content": a1}, {"role": "user", "content": second}]
    r = api.client.chat.completions.create(model=MODEL, messages=messages)
    a2 = r.choices[0].message.content
    expected = api.pipe.ask(second, history=[("user", first), ("assistant", a1)])
    assert a2 == expected.text and "各有关部门" in a2
    assert a2 != api.pipe.ask(second).text
    assert _extra(r.choices[0], "citations") == [
        {"quote" if k == "text" else k: v for k, v in c.to_dict().items()} for c in expected.citations]
    streamed = "".join(c.choices[0].delta.content or "" for c in api.client.chat.completions.create(
        model=MODEL, messages=messages, stream=True) if c.choices)
    assert streamed == a2
    # content parts (as some clients send) are read as text
    parts = messages[:-1] + [{"role": "user", "content": [{"type": "text", "text": second}]}]
    assert api.client.chat.completions.create(model=MODEL, messages=parts).choices[0].message.content == a2


def test_scope_filters_as_extra_fields(api):
    r = api.client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "行政复议"}],
                                           extra_body={"region": "陕西"})
    assert {c["doc_id"][:3] for c in _extra(r.choices[0], "citations")} <= {"003"}


# ------------------------------------------------------------------ errors (OpenAI's shape)

def _error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]
    return err


def test_a_missing_or_wrong_key_is_401(api):
    import openai

    body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTIONS[0]}]}
    assert _error(httpx.post(api.url + "v1/chat/completions", json=body), 401)["code"] == "invalid_api_key"
    assert _error(httpx.get(api.url + "v1/models"), 401)["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError) as e:
        OpenAI(base_url=api.url + "v1", api_key=WRONG_KEY, max_retries=0).chat.completions.create(**body)
    assert e.value.status_code == 401 and e.value.code == "invalid_api_key"
    second = OpenAI(base_url=api.url + "v1", api_key=OTHER_KEY, max_retries=0)  # either key works
    assert second.chat.completions.create(**body).choices[0].message.content


def test_bad_requests_are_400_and_say_why(api):
    post = lambda body, **kw: api.http.post("/v1/chat/completions", json=body, **kw)
    user = [{"role": "user", "content": QUESTIONS[0]}]
    assert _error(post({"messages": user}), 400)["param"] == "model"
    assert _error(post({"model": MODEL, "messages": []}), 400)["param"] == "messages"
    assert _error(post({"model": MODEL, "messages": user + [{"role": "assistant", "content": "x"}]}), 400)
    assert _error(post({"model": MODEL, "messages": [{"role": "wizard", "content": "x"}]}), 400)
    assert _error(post({"model": MODEL, "messages": [{"role": "user", "content": 5}]}), 400)
    assert _error(post({"model": MODEL, "messages": user, "n": 2}), 400)["param"] == "n"
    assert _error(post({"model": MODEL, "messages": user, "stream": "yes"}), 400)
    assert _error(post([1, 2]), 400)["code"] == "invalid_json"
    assert _error(api.http.post("/v1/chat/completions", content=b"{not json"), 400)["code"] == "invalid_json"
    for empty in ("   ", "???!!!"):
        err = _error(post({"model": MODEL, "messages": [{"role": "user", "content": empty}]}), 400)
        assert "请输入要查询的问题" in err["message"]
    assert _error(post({"model": MODEL, "messages": user, "region": "火星"}), 400)["code"] == "invalid_filter"
    assert _error(post({"model": "gpt-4o", "messages": user}), 404)["code"] == "model_not_found"
    # a streamed request with a bad question fails before the stream, with its status
    assert _error(post({"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "?"}]}), 400)


def test_limits_are_enforced_with_413(api):
    import openai

    limit = api.cfg.question.max_chars
    with pytest.raises(openai.APIStatusError) as e:
        api.client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "法" * (limit + 1)}])
    assert e.value.status_code == 413 and e.value.code == "question_too_long"
    post = lambda body: api.http.post("/v1/chat/completions", json=body)
    many = [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}] * 40 + [
        {"role": "user", "content": QUESTIONS[0]}]
    assert _error(post({"model": MODEL, "messages": many}), 413)["param"] == "messages"
    long_talk = [{"role": "user", "content": "问" * 1500}, {"role": "assistant", "content": "答" * 1500}] * 8 + [
        {"role": "user", "content": QUESTIONS[0]}]
    assert "characters" in _error(post({"model": MODEL, "messages": long_talk}), 413)["message"]
    huge = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": QUESTIONS[0]}],
                       "padding": "x" * (api.cfg.api.max_body + 1)})
    assert _error(api.http.post("/v1/chat/completions", content=huge), 413)["code"] == "request_too_large"
    # the server still answers afterwards
    assert api.client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTIONS[0]}])


# ------------------------------------------------------------------ /retrieval (Dify)

def _retrieve(api, query="两法衔接平台", top_k=5, threshold=0.0, key=KEY, **extra):
    body = {"knowledge_id": "default", "query": query,
            "retrieval_setting": {"top_k": top_k, "score_threshold": threshold}, **extra}
    return httpx.post(api.url + "retrieval", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def test_retrieval_has_difys_response_shape(api):
    r = _retrieve(api, "陕西要求哪年前建成两法衔接平台?", top_k=4)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    records = r.json()["records"]
    assert set(r.json()) == {"records"} and 0 < len(records) <= 4
    for rec in records:
        assert set(rec) == {"content", "score", "title", "metadata"}
        assert isinstance(rec["content"], str) and isinstance(rec["title"], str) and rec["title"]
        assert isinstance(rec["score"], float) and 0.0 <= rec["score"] <= 1.0
        meta = rec["metadata"]
        assert isinstance(meta, dict) and META_KEYS <= set(meta)
        assert api.pipe.index.document(meta["doc_id"]).text[meta["start"]:meta["end"]] == rec["content"]
    assert [x["score"] for x in records] == sorted((x["score"] for x in records), reverse=True)
    best = records[0]
    assert "两法衔接" in best["content"] and best["metadata"]["doc_id"].startswith("003") and best["score"] > 0.5
    assert best["metadata"]["region"] == "陕西省" and best["metadata"]["doc_type"] == "implementation_plan"
    # the same hits, in the same order, as the pipeline's own search
    hits = api.pipe.search("陕西要求哪年前建成两法衔接平台?", 4).hits
    assert [x["metadata"]["chunk_id"] for x in records] == [h.chunk.chunk_id for h in hits]


def test_score_threshold_keeps_the_best_prefix(api):
    everything = _retrieve(api, "五原县网格员", top_k=10).json()["records"]
    strict = _retrieve(api, "五原县网格员", top_k=10, threshold=0.5).json()["records"]
    assert strict and all(x["score"] >= 0.5 for x in strict) and strict == everything[:len(strict)]
    assert len(strict) < len(everything)
    assert _retrieve(api, "五原县网格员", threshold=1.0).json()["records"] == [x for x in everything[:5]
                                                                            if x["score"] >= 1.0]
    assert len(_retrieve(api, "两法衔接", top_k=500).json()["records"]) <= 50  # top_k is capped


def _dify_error(r: httpx.Response, status: int, code: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error_code", "error_msg"} and body["error_code"] == code
    return body["error_msg"]


def test_retrieval_errors_have_difys_codes(api):
    body = {"knowledge_id": "default", "query": "营业执照", "retrieval_setting": {"top_k": 2, "score_threshold": 0}}
    assert _dify_error(_retrieve(api, key=WRONG_KEY), 403, 1002) == "Authorization failed"
    assert "Bearer" in _dify_error(httpx.post(api.url + "retrieval", json=body), 403, 1001)
    for header in ("Basic abc", "Bearer", KEY):
        r = httpx.post(api.url + "retrieval", json=body, headers={"Authorization": header})
        _dify_error(r, 403, 1001)
    unknown = dict(body, knowledge_id="no-such-base")
    assert _dify_error(api.http.post("/retrieval", json=unknown), 404, 2001) == "The knowledge does not exist"
    # Dify's check when the API is registered: a POST with the key and no body; must not be 403/404
    assert api.http.post("/retrieval").status_code == 400
    _dify_error(api.http.post("/retrieval", json={"knowledge_id": "default"}), 400, 400)
    _dify_error(_retrieve(api, top_k=0), 400, 400)
    _dify_error(_retrieve(api, threshold=1.5), 400, 400)
    _dify_error(_retrieve(api, query="两" * (api.cfg.question.max_chars + 1)), 413, 413)
    assert "请输入要查询的问题" in _dify_error(_retrieve(api, query="   "), 400, 400)


# the five documents: 000 宁夏 (news_report, 2021-2025, no date), 001 萍乡 (article, 2023-12-06),
# 002 利通区 (implementation_plan, 2016-2020, 2016-08-19), 003 陕西 (implementation_plan, 2021-2025,
# 2021-11-27), 004 五原县 (annual_report, 2022, no date)
CONDITIONS = [
    ("and", [("province", "is", "宁夏回族自治区")], {"000", "002"}),
    ("and", [("province", "is not", "宁夏回族自治区")], {"001", "003", "004"}),
    ("and", [("title", "contains", "实施方案")], {"000", "002", "003"}),
    ("and", [("title", "not contains", "实施方案")], {"001", "004"}),
    ("and", [("doc_type", "in", ["implementation_plan", "annual_report"])], {"002", "003", "004"}),
    ("and", [("doc_type", "not in", ["implementation_plan"])], {"000", "001", "004"}),
    ("and", [("doc_type", "in", "article, news_report")], {"000", "001"}),
    ("and", [("city", "empty", None)], {"000", "003"}),
    ("and", [("city", "not empty", None)], {"001", "002", "004"}),
    ("and", [("date", "before", "2021-01-01")], {"002"}),
    ("and", [("date", "after", "2021")], {"001"}),
    ("and", [("date", "after", "2021-06-30")], {"001", "003"}),
    ("and", [("date", "after", 1625011200)], {"001", "003"}),  # a Unix timestamp (2021-06-30), as Dify sends
    ("and", [("date", "before", "2021年11月28日")], {"002", "003"}),
    ("and", [("period", "before", "2021")], {"002"}),
    ("and", [("period", "after", "2021")], {"004"}),
    ("and", [("issuer", "start with", "中共")], {"003"}),
    ("and", [(["region", "city"], "is", "吴忠市")], {"002"}),
    ("and", [("province", "is", "宁夏回族自治区"), ("level", "is", "province")], {"000"}),
    ("or", [("province", "is", "陕西省"), ("level", "is", "county")], {"002", "003", "004"}),
    ("and", [("doc_id", "start with", "004")], {"004"}),
    ("and", [("province", "is", "北京市")], set()),
]


@pytest.mark.parametrize("logic, conditions, expected", CONDITIONS,
                         ids=[" ".join(f"{c[0]} {c[1]} {c[2]}" for c in cs) for _, cs, _ in CONDITIONS])
def test_metadata_conditions_filter_the_documents(api, logic, conditions, expected):
    mc = {"logical_operator": logic,
          "conditions": [{"name": n, "comparison_operator": op, **({} if v is None else {"value": v})}
                         for n, op, v in conditions]}
    r = _retrieve(api, "法治政府建设 依法行政", top_k=50, metadata_condition=mc)
    assert r.status_code == 200, r.text
    got = {x["metadata"]["doc_id"][:3] for x in r.json()["records"]}
    assert got == expected


def test_bad_metadata_conditions_are_400(api):
    def bad(cond) -> str:
        return _dify_error(_retrieve(api, metadata_condition={"conditions": [cond]}), 400, 400)

    assert "fields are" in bad({"name": "author", "comparison_operator": "is", "value": "x"})
    assert "not supported" in bad({"name": "region", "comparison_operator": "like", "value": "x"})
    assert "value" in bad({"name": "region", "comparison_operator": "is"})
    assert "logical_operator" in _dify_error(_retrieve(api, metadata_condition={
        "logical_operator": "xor", "conditions": []}), 400, 400)
    # what Dify sends when no filter is set: null conditions, or none at all
    assert _retrieve(api, metadata_condition={"logical_operator": "and", "conditions": None}).json()["records"]


# ------------------------------------------------------------------ more servers

def test_several_knowledge_bases(corpus_index, small_corpus, tmp_path):
    """knowledge_ids "fz, small=DIR": /retrieval and the model "<model>/small" answer from the
    second index; the first stays the app's own."""
    from rag.index.builder import IndexBuilder
    from rag.pipeline import Pipeline

    _, index_dir = corpus_index
    cfg = make_config(index_dir, CORPUS, **{"app.data_dir": str(tmp_path / "var"), "api.keys": KEY,
                                            "api.knowledge_ids": f"fz, small={tmp_path / 'small'}"})
    IndexBuilder(cfg).build(small_corpus, tmp_path / "small")
    small_docs = {d.doc_id for d in Pipeline.from_config(cfg, tmp_path / "small").index.documents()}
    demo, url = _serve(Pipeline.from_config(cfg, index_dir), cfg)
    try:
        headers = {"Authorization": f"Bearer {KEY}"}

        def docs(kid):
            body = {"knowledge_id": kid, "query": "法治政府建设", "retrieval_setting": {"top_k": 50, "score_threshold": 0}}
            return {x["metadata"]["doc_id"] for x in httpx.post(url + "retrieval", json=body, headers=headers,
                                                                 timeout=60).json()["records"]}

        assert docs("small") == small_docs and len(docs("fz")) == 5
        assert httpx.post(url + "retrieval", headers=headers, json={"knowledge_id": "default", "query": "x"}
                          ).status_code == 404
        client = OpenAI(base_url=url + "v1", api_key=KEY, max_retries=0)
        assert [m.id for m in client.models.list().data] == [MODEL, f"{MODEL}/small"]
        r = client.chat.completions.create(model=f"{MODEL}/small", messages=[{"role": "user", "content": "法治政府建设"}])
        assert {c["doc_id"] for c in _extra(r.choices[0], "citations")} <= small_docs
    finally:
        demo.close()


def test_a_missing_index_is_503(tmp_path):
    from rag.errors import IndexMissing

    cfg = make_config(tmp_path / "none", CORPUS, **{"app.data_dir": str(tmp_path / "var")})
    demo, url = _serve(IndexMissing("no index"), cfg)
    try:
        body = {"model": MODEL, "messages": [{"role": "user", "content": QUESTIONS[0]}]}
        r = httpx.post(url + "v1/chat/completions", json=body, timeout=30)
        err = _error(r, 503)
        assert err["code"] == "index_unavailable" and "文件库" in err["message"] and r.headers["retry-after"]
        assert _error(httpx.post(url + "v1/chat/completions", json=dict(body, stream=True), timeout=30), 503)
        retrieval = {"knowledge_id": "default", "query": "营业执照", "retrieval_setting": {"top_k": 2, "score_threshold": 0}}
        _dify_error(httpx.post(url + "retrieval", json=retrieval, timeout=30), 503, 503)
        # open without keys on localhost with no login: the models list answers
        assert httpx.get(url + "v1/models", timeout=30).json()["data"][0]["id"] == MODEL
    finally:
        demo.close()


def test_busy_is_429_and_a_dropped_stream_frees_its_turn(corpus_index, tmp_path):
    """One answer at a time and none waiting: a second request while a stream runs is 429 (with
    Retry-After); a client that goes away mid-stream gives its turn back."""
    import openai

    from rag.pipeline import Pipeline, make_answer_stages

    _, index_dir = corpus_index
    cfg = make_config(index_dir, CORPUS, **{"app.data_dir": str(tmp_path / "var"), "api.concurrency": 1,
                                            "api.queue": 0, "api.keys": KEY})
    pipe = Pipeline.from_config(cfg, index_dir)
    pipe.answerer = Slowed(make_answer_stages(cfg)[0], delay=0.3)
    demo, url = _serve(pipe, cfg)
    client = OpenAI(base_url=url + "v1", api_key=KEY, max_retries=0)
    try:
        stream = client.chat.completions.create(model=MODEL, stream=True,
                                                messages=[{"role": "user", "content": QUESTIONS[0]}])
        next(iter(stream))  # the stream holds the only turn
        with pytest.raises(openai.RateLimitError) as e:
            client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": QUESTIONS[1]}])
        assert e.value.status_code == 429 and e.value.response.headers["retry-after"] == "1"
        r = httpx.post(url + "retrieval", headers={"Authorization": f"Bearer {KEY}"}, timeout=30,
                       json={"knowledge_id": "default", "query": "营业执照"})
        assert r.status_code == 429 and r.json()["error_code"] == 429
        stream.close()  # the client goes away mid-answer
        deadline, answered = time.monotonic() + 20, None
        while answered is None and time.monotonic() < deadline:
            try:
                answered = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "营业执照"}])
            except openai.RateLimitError:
                time.sleep(0.2)
        assert answered is not None and answered.choices[0].message.content
    finally:
        demo.close()


def test_a_queue_waits_instead_of_refusing(corpus_index, tmp_path):
    from rag.pipeline import Pipeline, make_answer_stages

    _, index_dir = corpus_index
    cfg = make_config(index_dir, CORPUS, **{"app.data_dir": str(tmp_path / "var"), "api.concurrency": 1,
                                            "api.queue": 3})
    pipe = Pipeline.from_config(cfg, index_dir)
    pipe.answerer = Slowed(make_answer_stages(cfg)[0], delay=0.02)
    demo, url = _serve(pipe, cfg)
    client = OpenAI(base_url=url + "v1", api_key="unused", max_retries=0)
    results: dict = {}

    def ask(q):
        results[q] = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": q}])

    try:
        threads = [threading.Thread(target=ask, args=(q,)) for q in QUESTIONS]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == sorted(QUESTIONS)
        for q in QUESTIONS:
            assert results[q].choices[0].message.content == pipe.ask(q).text
    finally:
        demo.close()


def test_an_llm_answer_is_streamed_only_after_its_citation_check(corpus_index, tmp_path):
    """With an LLM answerer the model's raw text (an unsupported sentence, a marker to nothing)
    never reaches the client: the stream is the checked answer, as without streaming."""
    from support.fakes import ScriptedGenerator

    from rag.answer.followup import Followup
    from rag.answer.generative import LLMAnswerer
    from rag.pipeline import Pipeline

    _, index_dir = corpus_index
    cfg = make_config(index_dir, CORPUS, **{"app.data_dir": str(tmp_path / "var"), "answer.backend": "openai",
                                            "llm.model": "scripted"})
    gen = ScriptedGenerator("陕西要求2023年年底前实现两法衔接平台信息共享机制化[1][9]。火星上也要建设平台[1]。")
    pipe = Pipeline.from_config(cfg, index_dir)
    pipe.answerer, pipe.followup = LLMAnswerer(gen), Followup(gen)
    demo, url = _serve(pipe, cfg)
    try:
        client = OpenAI(base_url=url + "v1", api_key="unused", max_retries=0)
        assert [m.id for m in client.models.list().data] == ["rag-openai"]
        messages = [{"role": "user", "content": QUESTIONS[0]}]
        expected = pipe.ask(QUESTIONS[0])
        assert "火星" not in expected.text and "[9]" not in expected.text and expected.citations
        plain = client.chat.completions.create(model="rag-openai", messages=messages)
        assert plain.choices[0].message.content == expected.text
        chunks = list(client.chat.completions.create(model="rag-openai", messages=messages, stream=True))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed == expected.text
        assert _extra(chunks[-1].choices[0], "citations")[0]["doc_id"].startswith("003")
    finally:
        demo.close()
