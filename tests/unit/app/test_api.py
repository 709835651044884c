"""The API's request parsing without a server: dates for before/after, the conversation kept
for follow-ups, metadata conditions, knowledge ids."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest
from support.fakes import make_config

from rag.app.api_base import ApiError, parse_knowledge_ids
from rag.app.api_chat import history, parse_chat
from rag.app.api_retrieval import date_span, matching_docs, parse_retrieval
from rag.records import DocMeta


@pytest.mark.parametrize("value, span", [
    ("2021", (date(2021, 1, 1), date(2021, 12, 31))),
    ("2021-11", (date(2021, 11, 1), date(2021, 11, 30))),
    ("2024-02", (date(2024, 2, 1), date(2024, 2, 29))),
    ("2021-11-27", (date(2021, 11, 27), date(2021, 11, 27))),
    ("2021/11/27", (date(2021, 11, 27), date(2021, 11, 27))),
    ("2021年11月27日", (date(2021, 11, 27), date(2021, 11, 27))),
    ("2021-11-27T08:30:00Z", (date(2021, 11, 27), date(2021, 11, 27))),
    ("2021-2025", (date(2021, 1, 1), date(2025, 12, 31))),
    ("2016—2020年", (date(2016, 1, 1), date(2020, 12, 31))),
    (2022, (date(2022, 1, 1), date(2022, 12, 31))),
    (1625011200, (date(2021, 6, 30), date(2021, 6, 30))),  # seconds
    (1625011200000, (date(2021, 6, 30), date(2021, 6, 30))),  # milliseconds
    ("1625011200", (date(2021, 6, 30), date(2021, 6, 30))),
    ("2021-13-01", (date(2021, 1, 1), date(2021, 12, 31))),  # no such month: the year
    ("", None), ("unknown", None), ("第12号", None), (True, None), (None, None),
])
def test_date_span(value, span):
    assert date_span(value) == span


def test_history_keeps_the_last_answered_pairs():
    turns = [("system", "s"), ("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("user", "q3"),
             ("assistant", "a3"), ("tool", "t"), ("user", "q4"), ("assistant", "a4"), ("user", "q5"),
             ("assistant", "a5")]
    assert history(turns) == [("user", "q3"), ("assistant", "a3"), ("user", "q4"), ("assistant", "a4"),
                              ("user", "q5"), ("assistant", "a5")]
    assert history(turns, max_turns=1) == [("user", "q5"), ("assistant", "a5")]
    assert history([("assistant", "hello")]) == []


def _api(**settings):
    cfg = make_config(**settings)
    return SimpleNamespace(cfg=cfg, models={"m": None}, listed=["m"])


def test_parse_chat():
    req = parse_chat({"model": "m", "messages": [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                                                 {"role": "user", "content": [{"type": "text", "text": "q2"},
                                                                              {"type": "image_url", "image_url": {}}]}],
                      "temperature": 0.2, "max_tokens": 100, "stream": True, "stream_options": {"include_usage": True},
                      "region": " 陕西 "}, _api())
    assert (req.question, req.history, req.stream, req.include_usage, req.region, req.doc) == (
        "q2", [("user", "q1"), ("assistant", "a1")], True, True, "陕西", None)
    with pytest.raises(ApiError) as e:
        parse_chat({"model": "m", "messages": [{"role": "user", "content": "问" * 11}]}, _api(**{"question.max_chars": 10}))
    assert e.value.status == 413


def _docs():
    return [SimpleNamespace(doc_id="a", meta=DocMeta(region="陕西省", date="2021-11-27", period="2021-2025")),
            SimpleNamespace(doc_id="b", meta=DocMeta(region="利通区", date="2016-08-19", period="2016-2020")),
            SimpleNamespace(doc_id="c", meta=DocMeta(region="五原县"))]


def _filter(logic, *conditions):
    body = {"knowledge_id": "k", "query": "q", "metadata_condition": {"logical_operator": logic, "conditions": [
        {"name": n, "comparison_operator": op, "value": v} for n, op, v in conditions]}}
    return matching_docs(_docs(), parse_retrieval(body, make_config()))


def test_metadata_conditions():
    assert _filter("and", ("date", "before", "2020")) == {"b"}
    assert _filter("and", ("date", "≥", "2021-11-27")) == {"a"}  # the same day counts
    assert _filter("and", ("date", "<", "2021-11-27")) == {"b"}
    assert _filter("and", ("date", "empty", None)) == {"c"}
    assert _filter("and", ("date", "null", None)) == {"c"}
    assert _filter("and", ("region", "!=", "陕西省")) == {"b", "c"}
    assert _filter("or", ("region", "is", "陕西省"), ("region", "is", "五原县")) == {"a", "c"}
    assert _filter("and", ("region", "is", ["陕西省", "五原县"])) == {"a", "c"}
    assert _filter("and", ("region", "ends with", "县")) == {"c"}
    assert _filter("and", ("period", "after", "2020"), ("period", "before", 2026)) == {"a"}
    assert parse_retrieval({"knowledge_id": "k", "query": "q"}, make_config()).conditions is None


def test_knowledge_ids():
    assert parse_knowledge_ids("default") == [("default", None)]
    assert parse_knowledge_ids(" fz , other = /srv/index ") == [("fz", None), ("other", "/srv/index")]
