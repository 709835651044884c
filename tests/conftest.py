"""Shared fixtures: the fakes in `support/` and small indexes, all offline.

- `corpus_index`: the real five-document corpus indexed with the fake bigram embedding
  (session scoped, ~2 s); `pipeline`: a pipeline over it; `places_pipeline`: the five
  documents and the 37 fixture documents of `tests/fixtures/docs` (many places, ~8 s);
- `small_corpus`: a copy of two corpus files in tmp; `run_cli`: `python -m rag …` in-process;
- `scripted_llm`: a factory of fake LLMs (`support.fakes.ScriptedGenerator`), as a fixture.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from hypothesis import settings  # noqa: E402
from support.fakes import CORPUS, FIXTURES, ScriptedGenerator, register_fake_embedding  # noqa: E402
from support.fakes import make_config as _make_config  # noqa: E402

from rag.config import Config  # noqa: E402

# Property tests draw the same examples on every run, so CI is reproducible; a developer hunting
# for new failures runs `HYPOTHESIS_PROFILE=explore make test` (fresh random examples each run).
settings.register_profile("repo", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repo"))

register_fake_embedding()


@pytest.fixture()
def scripted_llm():
    """A factory of fake LLMs replying with a fixed text (`support.fakes.ScriptedGenerator`)."""
    return ScriptedGenerator


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory) -> tuple[Config, Path]:
    """(config, index dir) of the real corpus indexed with the fake embedding."""
    from rag.index.builder import IndexBuilder

    index_dir = tmp_path_factory.mktemp("index")
    cfg = _make_config(index_dir, CORPUS)
    IndexBuilder(cfg).build(CORPUS, index_dir)
    return cfg, index_dir


@pytest.fixture(scope="session")
def pipeline(corpus_index):
    from rag.pipeline import Pipeline

    cfg, index_dir = corpus_index
    return Pipeline.from_config(cfg, index_dir)


@pytest.fixture(scope="session")
def places_pipeline(tmp_path_factory):
    """A pipeline over the five documents and the fixture documents (many places and levels)."""
    from rag.index.builder import IndexBuilder
    from rag.pipeline import Pipeline

    docs = tmp_path_factory.mktemp("places-docs")
    for folder in (CORPUS, FIXTURES / "docs"):
        for f in folder.iterdir():
            if f.is_file():
                shutil.copy(f, docs / f.name)
    index_dir = tmp_path_factory.mktemp("places-index")
    cfg = _make_config(index_dir, docs)
    IndexBuilder(cfg).build(docs, index_dir)
    return Pipeline.from_config(cfg, index_dir)


@pytest.fixture()
def small_corpus(tmp_path) -> Path:
    """A copy of two corpus files in tmp (for tests that add, change or remove documents)."""
    d = tmp_path / "docs"
    d.mkdir()
    for name in sorted(os.listdir(CORPUS))[2:4]:
        shutil.copy(CORPUS / name, d / name)
    return d


@pytest.fixture()
def run_cli(corpus_index, monkeypatch, capsys):
    """Run `python -m rag …` in-process against the session index (fake embedding backend):
    returns (exit code, stdout, stderr)."""
    from rag.cli import main

    cfg, index_dir = corpus_index
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", cfg.embedding.backend)
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", cfg.embedding.model)
    monkeypatch.setenv("RAG_ANSWER_REFUSAL_DENSE", "0")

    def run(*args: str) -> tuple[int, str, str]:
        code = main([*args, "--index", str(index_dir)])
        out, err = capsys.readouterr()
        return code, out, err

    return run
