"""Hardening: damaged index files, an unavailable model, a full disk, and one question keeping
the index version it started with while a rebuild is swapped in."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from support.fakes import make_config
from support.hardening import (
    NEW_DOC,
    build_small,
    enospc,
    one_line_error,
    real_cli,
    truncate,
)

from rag.cli import main
from rag.errors import IndexProblem
from rag.index.builder import IndexBuilder
from rag.index.layout import MANIFEST, read_manifest
from rag.index.reader import Index
from rag.records import Answer

pytestmark = [  # gradio's queue uses pandas options that pandas 3 deprecates (not our code)
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def _other_model(index_dir: Path) -> None:
    man = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    man["embedding"] = {"id": "sentence-transformers:BAAI/bge-small-zh-v1.5", "backend": "sentence-transformers",
                        "model": "BAAI/bge-small-zh-v1.5"}
    (index_dir / MANIFEST).write_text(json.dumps(man), encoding="utf-8")


DAMAGE = {
    "truncated-vectors": lambda d, v: truncate(d / v / "vectors.faiss"),
    "empty-vectors": lambda d, v: (d / v / "vectors.faiss").write_bytes(b""),
    "no-lexical": lambda d, v: shutil.rmtree(d / v / "lexical"),
    "truncated-lexical": lambda d, v: [truncate(p) for p in (d / v / "lexical").iterdir() if p.is_file()],
    "corrupt-store": lambda d, v: (d / v / "store.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 5000),
    "truncated-store": lambda d, v: truncate(d / v / "store.sqlite"),
    "no-version-folder": lambda d, v: shutil.rmtree(d / v),
    "half-manifest": lambda d, v: truncate(d / MANIFEST),
    "manifest-not-an-object": lambda d, v: (d / MANIFEST).write_text("[1, 2]", encoding="utf-8"),
    "manifest-binary": lambda d, v: (d / MANIFEST).write_bytes(b"\xff\xfe\x00garbage"),
    "manifest-of-another-model": lambda d, v: _other_model(d),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_index_is_a_clear_error_everywhere(tmp_path, damage, monkeypatch, capsys):
    """CLI: one line and exit 1. App: it starts, says what is wrong and what to run (to
    maintainers, in the 维护 tab), a question gets a citizen's sentence — never a traceback."""
    from rag.app.launch import open_pipeline
    from rag.app.ui import build_app

    cfg, docs, index_dir = build_small(tmp_path)
    DAMAGE[damage](index_dir, read_manifest(index_dir)["version"])
    with pytest.raises(IndexProblem, match="make index"):
        Index.open(index_dir, cfg)

    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "test-bigram")
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", "bigram-256")
    for args in (["ask", "营业执照找哪个部门?"], ["search", "营业执照"], ["list"], ["departments"]):
        code = main([*args, "--index", str(index_dir)])
        _, err = capsys.readouterr()
        assert code == 1 and one_line_error(err) and "make index" in err, (args, err)

    source = open_pipeline(cfg, index_dir)
    assert isinstance(source, IndexProblem)
    demo = build_app(source, cfg)
    svc = demo.rag_service
    status = svc.status()
    assert "rag-status-error" in status and "make index" in status and "Traceback" not in status
    last = list(svc.chat("营业执照找哪个部门?", []))[-1]
    assert last.kind == "error" and "make index" not in last.html and "暂时" in last.html  # citizens: no command
    assert "make index" in svc.admin_status()  # the 维护 tab says what to run
    assert "rag-error" in svc.document_view("x") and svc.documents() == []
    # rebuilding repairs it (a damaged previous version is not reused)
    IndexBuilder(cfg).build(docs, index_dir)
    assert Index.open(index_dir, cfg).store.count_chunks() > 0


def test_a_damaged_new_build_leaves_the_app_serving(tmp_path, monkeypatch):
    """The app serves version 1; version 2 is damaged (then the manifest itself): questions go
    on being answered, and the status line says why the new version is not used."""
    from rag.app.service import Service
    from rag.pipeline import Pipeline

    cfg, docs, index_dir = build_small(tmp_path)
    cfg.answer.refusal_dense = 0
    svc = Service(Pipeline.from_config(cfg, index_dir), cfg)
    v1 = svc.index_version
    path = sorted(docs.iterdir())[0]
    path.write_text(path.read_text(encoding="utf-8") + "\n五、新增一节\n新增的措施内容。", encoding="utf-8")
    v2 = IndexBuilder(cfg).build(docs, index_dir).version
    shutil.rmtree(index_dir / v2 / "lexical")
    last = list(svc.chat("营业执照找哪个部门?", []))[-1]
    assert last.kind == "final" and "区市场监管局" in last.turn["answer"]
    assert last.turn["index_version"] == v1  # fell back to the intact previous version
    assert "previous version" in svc.status()
    opened = []
    real_open = Index.open
    monkeypatch.setattr(Index, "open", lambda *a, **k: opened.append(a) or real_open(*a, **k))
    for _ in range(3):
        assert list(svc.chat("营业执照找哪个部门?", []))[-1].kind == "final"
    assert opened == []  # the damaged version is not opened again for every question
    (index_dir / MANIFEST).write_text('{"version": "v-half', encoding="utf-8")
    last = list(svc.chat("营业执照找哪个部门?", []))[-1]
    assert last.kind == "final" and "区市场监管局" in last.turn["answer"]
    assert "继续使用当前版本" in svc.status()


def test_an_unavailable_embedding_model_fails_fast_naming_the_setting(tmp_path, monkeypatch):
    """A hub model that is neither cached nor reachable: one line naming RAG_EMBEDDING_MODEL,
    in seconds, from `build` and from `ask` on an index built with that model; the app's
    维护 tab says the same, the chat a sentence without the setting."""
    from rag.app.service import Service
    from rag.pipeline import Pipeline

    _, docs, index_dir = build_small(tmp_path)
    env = {"RAG_EMBEDDING_BACKEND": "sentence-transformers", "RAG_EMBEDDING_MODEL": "BAAI/bge-small-zh-v1.5",
           "HF_HOME": str(tmp_path / "empty-hf-cache")}
    t0 = time.monotonic()
    r = real_cli(["build", "--docs", str(docs), "--index", str(tmp_path / "other-index")], env)
    assert time.monotonic() - t0 < 30
    assert r.returncode == 1 and one_line_error(r.stderr) and "RAG_EMBEDDING_MODEL" in r.stderr, r.stderr
    assert not (tmp_path / "other-index" / MANIFEST).exists()
    _other_model(index_dir)  # as if built with that model elsewhere
    r = real_cli(["ask", "营业执照找哪个部门?", "--index", str(index_dir)], env)
    assert r.returncode == 1 and one_line_error(r.stderr) and "RAG_EMBEDDING_MODEL" in r.stderr, r.stderr

    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda *a, **k: None)  # not cached here
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    st = make_config(index_dir, docs, **{"embedding.backend": "sentence-transformers",
                                         "embedding.model": "BAAI/bge-small-zh-v1.5", "app.data_dir": str(tmp_path / "var")})
    svc = Service(Pipeline.from_config(st, index_dir), st)
    last = list(svc.chat("营业执照找哪个部门?", []))[-1]
    assert last.kind == "error" and "检索模型无法使用" in last.html and "RAG_EMBEDDING_MODEL" not in last.html
    assert "RAG_EMBEDDING_MODEL" in svc.admin_status()  # the setting to change, for maintainers


@pytest.mark.parametrize("where", ["manifest", "store", "vectors", "copy"])
def test_a_full_disk_leaves_the_previous_index_serving(rag, tmp_path, monkeypatch, where):
    import rag.index.builder as build_module

    before = (rag.index / MANIFEST).read_bytes()
    corpus = rag.corpus()
    incoming = tmp_path / "incoming" / "新区法治政府建设实施方案.txt"
    incoming.parent.mkdir()
    incoming.write_text(NEW_DOC, encoding="utf-8")
    if where == "manifest":
        import rag.index.layout as layout_module

        real = layout_module.write_json_atomic

        def write(path, data):
            if Path(path) == rag.index / MANIFEST:
                enospc()
            real(path, data)

        monkeypatch.setattr(layout_module, "write_json_atomic", write)
    elif where == "store":
        def full(*a, **k):
            raise sqlite3.OperationalError("database or disk is full")

        monkeypatch.setattr(build_module.ChunkStore, "put_document", full)
    elif where == "vectors":
        monkeypatch.setattr(build_module.ChunkVectorStore, "persist", enospc)
    else:
        monkeypatch.setattr(shutil, "copy2", enospc)
    code, _, _, err = rag("add", str(incoming))
    assert code == 1 and one_line_error(err) and ("disk is full" in err or "disk full" in err), err
    assert "previous index is still in use" in err
    assert (rag.index / MANIFEST).read_bytes() == before
    assert not list(rag.index.glob(".building-*"))
    if where == "copy":
        assert rag.corpus() == corpus  # no half-copied file left in the corpus
    monkeypatch.undo()
    idx = Index.open(rag.index, make_config(rag.index))
    assert idx.version == json.loads(before)["version"] and idx.store.count_chunks() > 0


def test_a_question_keeps_the_index_version_it_started_with(tmp_path):
    """A rebuild swapped in by another user's request while this question is being answered
    (reload_if_changed) does not change the index under it."""
    from rag.pipeline import Pipeline, make_answer_stages

    cfg, docs, index_dir = build_small(tmp_path)
    cfg.answer.refusal_dense = 0
    pipe = Pipeline.from_config(cfg, index_dir)
    inner, _ = make_answer_stages(cfg)
    seen = []

    class SwapMidway:
        def stream(self, ev, history):
            seen.append(ev.ctx.version)
            path = sorted(docs.iterdir())[0]
            path.write_text(path.read_text(encoding="utf-8") + "\n五、新增\n新的内容。", encoding="utf-8")
            IndexBuilder(cfg).build(docs, index_dir)
            assert pipe.reload_if_changed()  # what the app does for the next user
            seen.append(ev.ctx.version)
            yield from inner.stream(ev, history)

    pipe.answerer = SwapMidway()
    v1 = pipe.index.version
    a = pipe.ask("营业执照找哪个部门?")
    assert seen == [v1, v1] and pipe.index.version != v1
    assert isinstance(a, Answer) and "区市场监管局" in a.text
