"""Hardening of the API (`rag.app.api`): keys are required beyond localhost and behind a login,
compared in constant time and never logged; bad [api] settings stop the launch; `python app.py`
serves the page and the API on one port."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time

import httpx
import pytest
from support.app import free_port, launch
from support.fakes import CORPUS, ROOT, make_config

from rag.app.access import ApiKeys, load_keys
from rag.app.launch import check_launch, launch_kwargs
from rag.errors import ConfigError, UnsafeLaunch

pytestmark = [
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

KEY = "sk-hardening-1b4e7c0d9a2f3865"
WRONG = "sk-guess-5e8d2a9c0b7f1436"
CHAT = {"model": "rag-extractive", "messages": [{"role": "user", "content": "在利通区办营业执照找哪个部门?"}]}
RETRIEVAL = {"knowledge_id": "default", "query": "营业执照", "retrieval_setting": {"top_k": 2, "score_threshold": 0}}


def _serve(corpus_index, tmp_path, source=None, **settings):
    from rag.app.ui import build_app
    from rag.pipeline import Pipeline

    _, index_dir = corpus_index
    cfg = make_config(index_dir, CORPUS, **{"app.data_dir": str(tmp_path / "var"), **settings})
    demo = build_app(source if source is not None else Pipeline.from_config(cfg, index_dir), cfg)
    return demo, launch(demo, cfg), cfg


def _auth(key):
    return {"Authorization": f"Bearer {key}"}


def test_keys_never_reach_the_logs(corpus_index, tmp_path, caplog, capfd):
    """Right and wrong keys, on both APIs, on success and on a fault with a traceback: no key in
    any log record, on stdout or stderr; the fault is logged (without the key) and answered 500."""
    caplog.set_level(logging.DEBUG)
    demo, url, cfg = _serve(corpus_index, tmp_path, **{"api.keys": KEY})
    try:
        assert httpx.post(url + "v1/chat/completions", json=CHAT, headers=_auth(KEY), timeout=60).status_code == 200
        assert httpx.post(url + "v1/chat/completions", json=CHAT, headers=_auth(WRONG), timeout=60).status_code == 401
        assert httpx.post(url + "retrieval", json=RETRIEVAL, headers=_auth(KEY), timeout=60).status_code == 200
        assert httpx.post(url + "retrieval", json=RETRIEVAL, headers=_auth(WRONG), timeout=60).status_code == 403
        pipe = demo.rag_service.current()

        class Broken:
            def stream(self, ev, history):
                raise RuntimeError("answerer broke")

        kept, pipe.answerer = pipe.answerer, Broken()
        try:
            r = httpx.post(url + "v1/chat/completions", json=CHAT, headers=_auth(KEY), timeout=60)
        finally:
            pipe.answerer = kept
        assert r.status_code == 500 and r.json()["error"]["type"] == "server_error"
        assert "answerer broke" not in r.text and "Traceback" not in r.text
    finally:
        demo.close()
    out, err = capfd.readouterr()
    logged = caplog.text + "".join(str(rec.__dict__) for rec in caplog.records)
    assert "API request failed" in caplog.text and "answerer broke" in logged  # the fault is logged
    for secret in (KEY, WRONG):
        assert secret not in logged and secret not in out and secret not in err
    assert KEY not in json.dumps(cfg.to_dict())


def test_keys_are_compared_in_constant_time(monkeypatch):
    import hmac

    from rag.app import access

    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def compare(a, b):
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", compare)
    keys = ApiKeys(["first-key-aaaaaaaaaaaa", "second-key-bbbbbbbbbbb", "third-key-cccccccccccc"])
    for candidate, ok in [("first-key-aaaaaaaaaaaa", True), ("third-key-cccccccccccc", True), ("nope", False),
                          ("x" * 10_000, False)]:
        calls.clear()
        assert keys.allows(candidate) is ok
        assert calls == [(32, 32)] * 3  # every key compared, on digests of one length, whichever matched
    assert not keys.allows(None) and not keys.allows("")
    assert ApiKeys([], open_without_keys=True).allows(None) and not ApiKeys([]).allows("anything")


def test_keys_come_from_the_environment_and_a_file(tmp_path):
    from rag.config import load_config

    assert load_keys(load_config(env={"RAG_API_KEYS": "k1, k2 k3,,k1"})) == ["k1", "k2", "k3"]
    f = tmp_path / "keys.txt"
    f.write_text("# office A\nfile-key-1\n\nfile-key-2  # office B\n", encoding="utf-8")
    cfg = load_config(env={"RAG_API_KEYS": "k1", "RAG_API_KEYS_FILE": str(f)})
    assert load_keys(cfg) == ["k1", "file-key-1", "file-key-2"]
    missing = load_config(env={"RAG_API_KEYS_FILE": str(tmp_path / "none.txt")})
    with pytest.raises(ConfigError, match="keys_file"):
        load_keys(missing)
    with pytest.raises(ConfigError, match="keys_file"):
        check_launch(missing)
    assert "***" in json.dumps(load_config(env={"RAG_API_KEYS": "k1"}).to_dict())


def test_beyond_localhost_or_behind_a_login_the_api_needs_keys(corpus_index, tmp_path):
    """Without keys, an app listening on 0.0.0.0 (or with a login) answers no API call; with
    keys, only calls with a key; the page's login is still enforced."""
    from gradio_client import Client

    public = {"app.host": "0.0.0.0", "app.auth": "tester:a-long-password"}
    assert any("refuses every call" in w for w in check_launch(make_config(**public)))
    assert not any("refuses" in w for w in check_launch(make_config(**public, **{"api.keys": KEY})))
    assert any("refuses every call" in w for w in check_launch(make_config(**{"app.auth": "tester:a-long-password"})))
    assert any("shorter than 16" in w for w in check_launch(make_config(**{"api.keys": "short"})))

    demo, url, _ = _serve(corpus_index, tmp_path, **public)  # served on 127.0.0.1, configured as public
    try:
        r = httpx.get(url + "v1/models", headers=_auth("anything"), timeout=30)
        assert r.status_code == 401 and "RAG_API_KEYS" in r.json()["error"]["message"]
        assert httpx.post(url + "retrieval", json=RETRIEVAL, timeout=30).json()["error_code"] == 1001
        assert httpx.post(url + "retrieval", json=RETRIEVAL, headers=_auth("x"), timeout=30).json()["error_code"] == 1002
    finally:
        demo.close()
    demo, url, _ = _serve(corpus_index, tmp_path, **public, **{"api.keys": KEY})
    try:
        assert httpx.get(url + "v1/models", timeout=30).status_code == 401
        assert httpx.get(url + "v1/models", headers=_auth(KEY), timeout=30).status_code == 200
        assert httpx.post(url + "retrieval", json=RETRIEVAL, headers=_auth(KEY), timeout=30).json()["records"]
        with pytest.raises(Exception):
            Client(url, verbose=False).predict("营业执照找哪个部门?", "", "", api_name="/ask")
        text, _ = Client(url, auth=("tester", "a-long-password"), verbose=False).predict(
            "营业执照找哪个部门?", "", "", api_name="/ask")
        assert "区市场监管局" in text
    finally:
        demo.close()


def test_bad_api_settings_stop_the_launch():
    for bad in ({"api.concurrency": 0}, {"api.max_body": 0}, {"api.queue": -1}):
        with pytest.raises(UnsafeLaunch):
            check_launch(make_config(**bad))
    for ids in ("", "a=", "a, a", "two words"):
        with pytest.raises(ConfigError, match="knowledge_ids"):
            check_launch(make_config(**{"api.knowledge_ids": ids}))
    with pytest.raises(ConfigError, match="model"):
        check_launch(make_config(**{"api.model": "a/b"}))


def test_the_api_can_be_turned_off(corpus_index, tmp_path):
    demo, url, cfg = _serve(corpus_index, tmp_path, **{"api.enabled": False})
    try:
        assert not hasattr(demo, "rag_api") and "app_kwargs" not in launch_kwargs(cfg, demo)
        assert httpx.get(url + "v1/models", timeout=30).status_code == 404
        assert httpx.post(url + "retrieval", json=RETRIEVAL, timeout=30).status_code in (404, 405)
    finally:
        demo.close()


def _wait_for(url: str, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.mark.slow
def test_python_app_py_serves_the_page_and_the_api_on_one_port(tmp_path):
    """The real entry point: the page and both APIs on the one port (no index yet: the API says
    503, as the page says what to run)."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "RAG_APP_PORT": str(port), "RAG_INDEX_DIR": str(tmp_path / "none"),
           "RAG_APP_DATA_DIR": str(tmp_path / "var"), "RAG_API_KEYS": KEY, "HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(url)
        models = httpx.get(url + "v1/models", headers=_auth(KEY), timeout=30)
        assert models.status_code == 200 and models.json()["data"][0]["id"] == "rag-extractive"
        assert httpx.get(url + "v1/models", timeout=30).status_code == 401
        r = httpx.post(url + "retrieval", json=RETRIEVAL, headers=_auth(KEY), timeout=30)
        assert r.status_code == 503 and r.json()["error_code"] == 503
        r = httpx.post(url + "v1/chat/completions", json=CHAT, headers=_auth(KEY), timeout=30)
        assert r.status_code == 503 and r.json()["error"]["code"] == "index_unavailable"
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert KEY not in out and "Traceback" not in out
