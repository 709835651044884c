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
    assert kw["footer_links"] == [] and kw["run_history"] is False  # no footer, no questions kept by Gradio
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


def test_failed_logins_are_throttled_and_passwords_can_be_hashed(corpus_index, tmp_path):
    """Guessing at /login: after a few failures a client gets 429 with a doubling wait; the
    right (hashed) password still works from another client once the user's own lock is off."""
    import httpx
    from support.app import launch

    from rag.app.login import check_password, hash_password
    from rag.app.ui import build_app
    from rag.pipeline import Pipeline

    stored = hash_password("a-long-passphrase")
    assert check_password("a-long-passphrase", stored) and not check_password("wrong", stored)
    cfg, index_dir = corpus_index
    app_cfg = make_config(index_dir, **{"app.data_dir": str(tmp_path), "app.auth": f"tester:{stored}"})
    demo = build_app(Pipeline.from_config(app_cfg, index_dir), app_cfg)
    url = launch(demo, app_cfg)
    try:
        codes, t0 = [], time.monotonic()
        for i in range(30):
            codes.append(httpx.post(url + "login", data={"username": "tester", "password": f"guess{i}"},
                                    timeout=10).status_code)
        per_second = 30 / (time.monotonic() - t0)
        assert codes[:5] == [400] * 5 and codes.count(429) >= 20, codes
        r = httpx.post(url + "login", data={"username": "tester", "password": "a-long-passphrase"}, timeout=10)
        assert r.status_code == 429 and "秒后再试" in r.json()["detail"]  # this client must wait
        print(f"login attempts from one client: {codes.count(400)} checked, {codes.count(429)} refused "
              f"({per_second:.0f} requests/s answered)")
    finally:
        demo.close()


def test_a_short_password_is_refused_beyond_localhost():
    from rag.app.launch import check_launch
    from rag.app.login import hash_password
    from rag.errors import UnsafeLaunch

    with pytest.raises(UnsafeLaunch, match="shorter than 12"):
        check_launch(make_config(**{"app.host": "0.0.0.0", "app.auth": "admin:short-pw"}))
    check_launch(make_config(**{"app.host": "127.0.0.1", "app.auth": "admin:short-pw"}))  # local: fine
    check_launch(make_config(**{"app.host": "0.0.0.0", "app.auth": f"admin:{hash_password('x')}"}))  # hashed


def _peak_rss_of(code: str, tmp_path) -> tuple[str, float]:
    """Run `code` in a fresh interpreter; (its stdout, its peak RSS in MB)."""
    # VmHWM, not ru_maxrss: the latter keeps the forked parent's size across exec
    runner = (f"import sys\n{code}\n"
              "print('PEAK', next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')) / 1024)")
    out = subprocess.run([sys.executable, "-c", runner], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=tmp_path).stdout
    peak = float(out.strip().splitlines()[-1].split()[1])
    return out, peak


def test_oversized_and_bomb_documents_are_refused_one_line_each_while_the_rest_builds(tmp_path):
    """A docx that decompresses to 600 MB of XML, a 60 MB text file and a 2.5-million-character
    line: each refused with one line, quickly and in little memory; the good document builds."""
    import zipfile

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "good.txt").write_text("甲县法治政府建设实施方案\n一、总体要求\n甲县2025年底前建成执法监督平台。", encoding="utf-8")
    with zipfile.ZipFile(docs / "bomb.docx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as f:  # 600 MB of one run, streamed
            f.write(b"<w:document><w:body><w:p><w:r><w:t>")
            block = "法" * (1 << 20)
            for _ in range(200):
                f.write(block.encode("utf-8"))
            f.write(b"</w:t></w:r></w:p></w:body></w:document>")
    with open(docs / "huge.txt", "wb") as f:
        f.write(("一二三四五六七八九十。\n" * 2_000_000).encode("utf-8"))  # ~62 MB
    (docs / "line.txt").write_text("长" * 2_500_000, encoding="utf-8")  # under max_chars, one line
    assert (docs / "bomb.docx").stat().st_size < 5 * 2**20
    code = (f"from support.fakes import make_config, register_fake_embedding\nregister_fake_embedding()\n"
            f"from rag.index.builder import IndexBuilder\nfrom pathlib import Path\nimport time\n"
            f"from rag.text.tokenize import Tokenizer\nTokenizer.load_full()\n"
            f"print('BASE', next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')) / 1024)\n"
            f"cfg = make_config(Path({str(tmp_path / 'index')!r}), Path({str(docs)!r}))\nt = time.time()\n"
            f"r = IndexBuilder(cfg).build(Path({str(docs)!r}), Path({str(tmp_path / 'index')!r}))\n"
            f"print('SECONDS', round(time.time() - t, 1))\n"
            f"for d in r.documents: print(d.status, d.path, '|', d.reason)")
    out, peak = _peak_rss_of(f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r})\n" + code, tmp_path)
    lines = {x.split()[1].rsplit("/", 1)[-1]: x for x in out.splitlines() if x.startswith(("added", "failed"))}
    assert lines["good.txt"].startswith("added")
    assert "zip bomb" in lines["bomb.docx"] or "decompresses" in lines["bomb.docx"]
    assert "larger than" in lines["huge.txt"] and "a line of" in lines["line.txt"]
    seconds = float(next(x for x in out.splitlines() if x.startswith("SECONDS")).split()[1])
    base = float(next(x for x in out.splitlines() if x.startswith("BASE")).split()[1])
    print(f"bomb + 62 MB file + 2.5M-char line: peak RSS {peak:.0f} MB ({peak - base:.0f} MB above the "
          f"interpreter with jieba loaded), {seconds} s")
    assert peak - base < 250  # the bomb is never decompressed, the big file never read


def test_login_failures_double_the_wait():
    from rag.app.login import Failures, Login, hash_password

    f = Failures(free=3, max_wait=60, forget=900)
    for i in range(3):
        assert f.wait("c", now=100.0 + i) == 0
        f.failed("c", now=100.0 + i)
    assert f.wait("c", now=102.0) == 1.0  # after 3 failures: 1 s, then 2, 4, …
    f.failed("c", now=103.0)
    assert f.wait("c", now=103.0) == 2.0
    f.succeeded("c")
    assert f.wait("c", now=104.0) == 0
    login = Login("tester", hash_password("a-long-passphrase"), Failures(free=2))
    assert not login("tester", "x") and not login("tester", "y")
    assert not login("tester", "a-long-passphrase")  # locked out for a moment, even with the password
    assert not login("other", "a-long-passphrase")


def test_a_docx_of_millions_of_short_paragraphs_is_refused_before_parsing(tmp_path):
    """The case that took a build to 23 GB: ~280 MB of XML as 4 million short paragraphs in a
    1 MB docx. Its paragraphs are counted in a stream and it is refused in little memory."""
    import zipfile

    path = tmp_path / "many.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as f:
            f.write(b"<w:document><w:body>")
            for _ in range(40):
                f.write(b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * 100_000)
            f.write(b"</w:body></w:document>")
    code = f"from rag.ingest.load import load_file\ntry:\n    load_file({str(path)!r})\nexcept Exception as e:\n    print('ERR', e)"
    out, peak = _peak_rss_of(code, tmp_path)
    assert "paragraphs" in out or "XML decompresses" in out, out
    print(f"4 million paragraphs in {path.stat().st_size // 1024} KB: refused, peak RSS {peak:.0f} MB")
    assert peak < 300


def test_a_conversation_sent_back_by_the_browser_is_checked_and_capped(corpus_index, tmp_path):
    """The browser's copy of a conversation (gr.BrowserState) can be edited by its user: the
    server keeps at most `app.max_turns` turns of the right shape, cuts every string, drops
    citations that are malformed or too many, and shows what it keeps escaped, from the index."""
    from support.hardening import TAG

    from rag.app.service import STORED_ANSWER_CHARS, STORED_CITATIONS, checked_turns
    from rag.pipeline import Pipeline

    _, index_dir = corpus_index
    cfg = make_config(index_dir, **{"app.data_dir": str(tmp_path), "app.max_turns": 5})
    svc = Service(Pipeline.from_config(cfg, index_dir), cfg)
    doc_id = next(d.doc_id for d in svc.documents() if d.doc_id.startswith("003"))
    good = {"question": "问题", "answer": "回答[1]", "refused": False, "notice": "", "region": "", "doc": "",
            "citations": [{"n": 1, "doc_id": doc_id, "title": "t", "section": "s", "text": "x", "start": 1, "end": 2}]}
    for junk in (None, "x" * 10_000, 5, {"question": "q"}, [None, 5, "s", [1]], [{"question": 5, "answer": "a"}],
                 [{"question": " ", "answer": "a"}], [{"question": "q"}]):
        assert checked_turns(junk, 5, 2000) == [], junk
        assert svc.restore(junk) == ([], [])
    many = [dict(good, question=f"问题{i}") for i in range(10_000)]
    kept = checked_turns(many, 5, 2000)
    assert [t["question"] for t in kept] == [f"问题{i}" for i in range(9995, 10_000)]  # the last ones
    huge = dict(good, question="问" * 1_000_000, answer="答" * 1_000_000, notice="n" * 10_000, region="r" * 10_000,
                citations=[dict(good["citations"][0], n=i, text="引" * 100_000) for i in range(500)]
                + [{"n": True, "start": 0, "end": 1}, {"n": 1, "start": -1, "end": 2}, {"n": 1, "start": 5, "end": 2},
                   {"n": 1, "start": 0, "end": 10**12}, "x"])
    (t,) = checked_turns([huge], 5, 2000)
    assert len(t["question"]) == 2000 and len(t["answer"]) == STORED_ANSWER_CHARS and len(t["notice"]) == 200
    assert len(t["citations"]) == STORED_CITATIONS and all(len(c["text"]) == 2000 for c in t["citations"])
    assert len(repr(t)) < 200_000
    evil = dict(good, question="<script>alert(1)</script><img src=x onerror=alert(2)>",
                answer="<svg onload=alert(3)>[1]", citations=[dict(good["citations"][0], title="<script>x</script>",
                                                                section="<b onclick=y>", text="<img onerror=z>")])
    messages, turns = svc.restore([evil] * 3)
    assert len(messages) == 6 and len(turns) == 3
    for m in messages:
        assert not TAG.search(m["content"]), m["content"]
    unknown = dict(good, citations=[dict(good["citations"][0], doc_id="../../etc/passwd")])
    messages, _ = svc.restore([unknown])
    assert "rag-open-doc" not in messages[1]["content"] and "root:" not in messages[1]["content"]
