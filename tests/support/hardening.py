"""Shared pieces of the hardening tests: a new document, checks of output, small corpora."""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from rag.index.builder import IndexBuilder
from support.fakes import CORPUS, ROOT, make_config

NEW_DOC = (
    "新区法治政府建设实施方案\n"
    "一、总体要求\n"
    "(一)推行智慧普法云平台\n"
    "2030年底前建成智慧普法云平台,实现普法资源全区共享。(区司法局牵头,各有关部门配合)\n"
)


TAG = re.compile(r"<\s*script|<[a-zA-Z][^>]*\son\w+\s*=", re.IGNORECASE)  # an executable tag or handler


def one_line_error(err: str) -> bool:
    return err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def build_small(tmp_path) -> tuple[object, Path, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in sorted(os.listdir(CORPUS))[2:4]:
        shutil.copy(CORPUS / name, docs / name)
    index_dir = tmp_path / "index"
    cfg = make_config(index_dir, docs, **{"app.data_dir": str(tmp_path / "var")})
    IndexBuilder(cfg).build(docs, index_dir)
    return cfg, docs, index_dir


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def real_cli(args: list[str], env_extra: dict, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "HOME": os.environ.get("HOME", "/tmp"), **env_extra}
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def enospc(*a, **k):
    raise OSError(errno.ENOSPC, "No space left on device")


LONG = "两法衔接平台" * 3334  # 20,004 characters


QUESTIONS = [  # question, what must happen: "answer", "message" (a refusal counts as an answer), "truncated"
    ("", "message"),
    ("   ", "message"),
    ("\n\t  \n", "message"),
    (LONG, "truncated"),
    ("营业执照\x00找哪个部门\x1b[31m?\x07", "answer"),
    ("\u202e营业执照找哪个部门?\u202c\u200b", "answer"),
    ("\u202e\u2066\u200b", "message"),
    ("Law закон 法治 营业执照 licence 申請", "answer"),
    ("?!。,、……——《》", "message"),
    ("'; DROP TABLE chunks; --", "answer"),
    ("<script>alert(1)</script>", "answer"),
    ("<img src=x onerror=alert(1)>营业执照找哪个部门?", "answer"),
    ("\"><svg/onload=alert(1)>", "answer"),
    ("{question} {sources} %s %(x)s {{}}", "answer"),
]


IDS = ["empty", "spaces", "whitespace", "20000", "controls", "bidi", "only-bidi", "mixed-scripts",
       "punctuation", "sql", "script", "img-onerror", "svg-onload", "format-strings"]
