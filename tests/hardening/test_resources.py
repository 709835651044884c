"""Hardening, round two: bounded resources and no trust in shared folders — the jieba cache is
private, feedback cannot fill the disk, a session's history is bounded, the corpus folder is not
scanned on every question, and Gradio's defaults that open doors are off."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from support.fakes import ROOT, make_config

from rag.app.feedback import FeedbackLog, FeedbackRefused
from rag.app.service import Service, trim_history


def test_a_jieba_cache_planted_in_the_temp_folder_is_not_read(tmp_path):
    """jieba's default cache is /tmp/jieba.cache, writable by anyone: a planted one (two words)
    would change every token. Ours lives in a private folder of our own."""
    import marshal

    plant = tmp_path / "tmp"
    plant.mkdir()
    with open(plant / "jieba.cache", "wb") as f:
        marshal.dump(({"办营业": 1, "执照": 1, "办": 1, "营": 1, "业": 1, "执": 1, "照": 1}, 7), f)
    code = ("from rag.text.tokenize import Tokenizer, private_cache_dir; import os, stat; "
            "print(Tokenizer().words('办营业执照')); d = private_cache_dir(); "
            "print(oct(stat.S_IMODE(os.stat(d).st_mode)), d)")
    env = {**os.environ, "TMPDIR": str(plant), "XDG_CACHE_HOME": str(tmp_path / "home-cache"), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                         check=True).stdout.splitlines()
    assert "营业执照" in out[0] and "'办营业'" not in out[0]
    assert out[1].startswith("0o700") and str(tmp_path / "home-cache") in out[1]


def test_feedback_is_bounded_deduplicated_and_rate_limited(tmp_path):
    log = FeedbackLog(tmp_path, max_mb=0.05, per_minute=3, line_chars=100)
    huge = "问" * 20_000_000
    rec = log.rate("up", huge, "答" * 10_000, [{"doc_id": "d", "section": "s", "start": 0, "end": 1}] * 50, "v",
                   session="a", turn_key="t1")
    assert len(rec["question"]) == 100 and len(rec["answer"]) == 100 and len(rec["citations"]) == 10
    with pytest.raises(FeedbackRefused, match="已经记录"):  # the same rating of the same turn again
        log.rate("up", huge, "答", [], "v", session="a", turn_key="t1")
    log.rate("down", "q", "a", [], "v", session="a", turn_key="t2")
    log.rate("down", "q", "a", [], "v", session="a", turn_key="t3")
    with pytest.raises(FeedbackRefused, match="太频繁"):  # the session's fourth rating within a minute
        log.rate("down", "q", "a", [], "v", session="a", turn_key="t4")
    for i in range(200):  # many users: the file stops growing at its cap
        try:
            log.rate("up", "问" * 100, "答" * 100, [], "v", session=f"s{i}", turn_key=f"u{i}")
        except FeedbackRefused as e:
            assert "已满" in str(e)
    assert log.feedback_path.stat().st_size <= 0.05 * 1024 * 1024
    assert all(json.loads(x) for x in log.feedback_path.read_text(encoding="utf-8").splitlines())


def test_ten_likes_of_a_20_million_character_question_write_kilobytes(tmp_path, corpus_index):
    """The abuse that wrote 204 MB: a 20M-character question through the chat handler, then 👍
    ten times. The server cuts the question to its limit and records one rating."""
    cfg, index_dir = corpus_index
    app_cfg = make_config(index_dir, **{"app.data_dir": str(tmp_path), "answer.refusal_dense": 0})
    from rag.pipeline import Pipeline

    svc = Service(Pipeline.from_config(app_cfg, index_dir), app_cfg)
    turn = list(svc.chat("营业执照" + "办" * 20_000_000, []))[-1].turn
    assert len(turn["question"]) == app_cfg.question.max_chars
    for _ in range(10):
        try:
            svc.rate(turn, True, "one-session")
        except FeedbackRefused:
            pass
    assert svc.feedback.feedback_path.stat().st_size < 20_000


def test_a_session_keeps_a_bounded_history():
    msgs, turns = [], []
    for i in range(30):
        msgs += [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]
        msgs, turns = trim_history(msgs, turns + [{"question": f"q{i}", "msg_index": len(msgs) - 1}], 5)
    assert len(turns) == 5 and len(msgs) == 10
    assert [t["question"] for t in turns] == [f"q{i}" for i in range(25, 30)]
    assert all(msgs[t["msg_index"]]["content"] == "a" + t["question"][1:] for t in turns)  # 👍/👎 still find them


def test_the_corpus_folder_is_not_scanned_on_every_question(corpus_index, monkeypatch, tmp_path):
    cfg, index_dir = corpus_index
    app_cfg = make_config(index_dir, **{"app.data_dir": str(tmp_path), "app.stale_check_seconds": 3600})
    from rag.index.reader import Index
    from rag.pipeline import Pipeline

    scans = []
    real = Index.stale_reasons
    monkeypatch.setattr(Index, "stale_reasons", lambda self, d: scans.append(1) or real(self, d))
    svc = Service(Pipeline.from_config(app_cfg, index_dir), app_cfg)
    for _ in range(20):
        svc.status()
    time.sleep(0.2)
    assert len(scans) == 1


def test_gradio_doors_are_closed(corpus_index, tmp_path):
    """No /monitoring dashboard, uploads refused (the app has none), analytics off even when the
    environment asks for them."""
    import httpx
    from support.app import launch

    from rag.app.launch import launch_kwargs
    from rag.app.ui import build_app
    from rag.pipeline import Pipeline

    cfg, index_dir = corpus_index
    app_cfg = make_config(index_dir, **{"app.data_dir": str(tmp_path)})
    kw = launch_kwargs(app_cfg)
    assert kw["enable_monitoring"] is False and kw["state_session_capacity"] == app_cfg.app.max_sessions
    demo = build_app(Pipeline.from_config(app_cfg, index_dir), app_cfg)
    url = launch(demo, app_cfg)
    try:
        assert httpx.get(url + "monitoring", timeout=10).status_code in (403, 404)
        r = httpx.post(url + "gradio_api/upload", files={"files": ("a.txt", b"x" * 50_000)}, timeout=10)
        assert r.status_code in (400, 413)
    finally:
        demo.close()
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "True", "PYTHONPATH": str(ROOT)}
    code = "import os; from rag.app.launch import main; import sys; sys.argv=['x','--port','0']; " \
           "os.environ['RAG_APP_HOST']='0.0.0.0'; main([]) ; print(os.environ['GRADIO_ANALYTICS_ENABLED'])"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().endswith("False")
