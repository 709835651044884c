"""Fixtures of the hardening tests."""

from __future__ import annotations

import json

import pytest

from rag.cli import main
from rag.index.layout import read_manifest


@pytest.fixture()
def rag(small_corpus, tmp_path, monkeypatch, capsys):
    """Run `python -m rag …` in-process on a two-document corpus copy and its own index."""
    index_dir = tmp_path / "index"
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", "test-bigram")
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", "bigram-256")
    monkeypatch.setenv("RAG_ANSWER_REFUSAL_DENSE", "0")
    monkeypatch.setenv("RAG_CORPUS_DOCS", str(small_corpus))

    class Run:
        docs = small_corpus
        index = index_dir

        def __call__(self, *args: str) -> tuple[int, list, str, str]:
            code = main([*args, "--index", str(index_dir)])
            out, err = capsys.readouterr()
            lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
            return code, lines, out, err

        def version(self) -> str:
            return read_manifest(index_dir)["version"]

        def statuses(self, lines) -> dict:
            return {x["doc_id"]: x["status"] for x in lines if "status" in x}

        def corpus(self) -> list[str]:
            return sorted(p.relative_to(small_corpus).as_posix() for p in small_corpus.rglob("*"))

    run = Run()
    code, _, _, err = run("build", "--json")
    assert code == 0, err
    return run
