"""The web app's status line, and index problems worded for the people who can fix them.

`status_html` says which embedding model and answerer serve the page and which index version
(build time, document count). A missing, mismatched or damaged index becomes one actionable
sentence ("索引不存在:请先运行 make index …") instead of a traceback, and an index older than the
corpus folder gets a notice.
"""

from __future__ import annotations

import re
from pathlib import Path

from rag.app.view import esc
from rag.errors import (
    ConfigError,
    EmbeddingError,
    FilterError,
    IndexCorrupt,
    IndexMismatch,
    IndexMissing,
    IndexProblem,
    InputError,
    LLMError,
    ModelUnavailable,
    QuestionError,
)

ANSWER_BACKENDS = {"extractive": "抽取式(不使用大模型)", "transformers": "本地大模型", "openai": "大模型服务"}


def index_problem(error: BaseException) -> str:
    """One actionable sentence (Chinese) for an error raised while opening the index."""
    detail = str(error).strip()
    if isinstance(error, IndexMissing):
        return "索引不存在:请先运行 make index(即 python -m rag build)建立索引,然后刷新本页。"
    if isinstance(error, IndexMismatch):
        return f"索引与当前配置不一致:请运行 make index 重新建立索引,然后刷新本页。(详情:{detail})"
    if isinstance(error, IndexCorrupt):
        return f"索引已损坏:请运行 make index 重新建立索引,然后刷新本页。(详情:{detail})"
    return f"无法打开索引:{detail or type(error).__name__}。请检查配置(rag.toml)后运行 make index。"


_STALE = [
    (re.compile(r"(\d+) new file"), "语料文件夹中有 {} 个新文件尚未编入索引"),
    (re.compile(r"(\d+) indexed document"), "索引中有 {} 份文件已不在语料文件夹中"),
    (re.compile(r"corpus folder .* is missing"), "语料文件夹不存在"),
    (re.compile(r"older version of the ingest"), "索引中的文件是旧版本的清洗和切分程序处理的"),
]


def stale_notice(reasons: list[str]) -> str:
    """"" when the index matches the corpus folder, else what differs and what to run."""
    if not reasons:
        return ""
    said = []
    for r in reasons:
        for pattern, fmt in _STALE:
            m = pattern.search(r)
            if m:
                said.append(fmt.format(*m.groups()))
                break
        else:
            said.append(r)
    return f"索引不是最新的:{';'.join(said)}。请运行 make index 更新索引。"


def answerer_label(cfg) -> str:
    backend = cfg.answer.backend
    label = ANSWER_BACKENDS.get(backend, backend)
    if backend != "extractive" and cfg.llm.model:
        return f"{label} {backend} · {cfg.llm.model}"
    return f"{label}" if backend == "extractive" else f"{label} {backend}"


def _built_at(value: str) -> str:
    """"2026-11-25T20:47:51+00:00" → "2026-11-25 20:47 UTC"."""
    m = re.match(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d)", value or "")
    if not m:
        return value or "—"
    tz = " UTC" if value.endswith(("+00:00", "Z")) else ""
    return f"{m.group(1)} {m.group(2)}{tz}"


def status_items(pipeline, cfg) -> list[tuple[str, str]]:
    """(label, value) pairs of the status line for an open pipeline."""
    man = pipeline.index.manifest
    emb = man.get("embedding", {}).get("id") or f"{cfg.embedding.backend}:{cfg.embedding.model}"
    counts = man.get("counts", {})
    n_docs = counts.get("documents", len(pipeline.index.documents()))
    return [
        ("嵌入模型", emb),
        ("回答方式", answerer_label(cfg)),
        ("索引版本", man.get("version", "—")),
        ("构建时间", _built_at(man.get("built_at", ""))),
        ("文件", f"{n_docs} 份" + (f" · {counts['chunks']} 段" if "chunks" in counts else "")),
    ]


def status_html(pipeline, cfg, error: BaseException | None = None, stale: list[str] | None = None) -> str:
    """The status line (HTML). With `error` (the pipeline could not be opened) a warning box
    that says what to run; otherwise the models and index, plus any index warning."""
    if error is not None or pipeline is None:
        msg = index_problem(error) if error is not None else "索引未打开。"
        return (f'<div class="rag-status rag-status-error" role="alert"><strong>⚠ {esc(msg)}</strong>'
                f'<div class="rag-status-sub">回答方式:{esc(answerer_label(cfg))}</div></div>')
    items = "".join(f'<span class="rag-status-item"><span class="rag-status-k">{esc(k)}</span>'
                    f'<span class="rag-status-v rag-content">{esc(v)}</span></span>' for k, v in status_items(pipeline, cfg))
    notes = []
    if getattr(pipeline.index, "warning", ""):
        notes.append(f"索引警告:{pipeline.index.warning}")
    notice = stale_notice(stale or [])
    if notice:
        notes.append(notice)
    notes_html = "".join(f'<div class="rag-status-warn">⚠ {esc(n)}</div>' for n in notes)
    return f'<div class="rag-status">{items}{notes_html}</div>'


def stale_reasons(pipeline, cfg) -> list[str]:
    """Why the index no longer matches the corpus folder ([] when it does or cannot tell)."""
    try:
        return pipeline.index.stale_reasons(Path(cfg.resolve(cfg.corpus.docs)))
    except Exception:  # a status line must never fail the page
        return []


def user_message(error: BaseException) -> str:
    """What the page says when a question or search fails (no traceback, one sentence)."""
    detail = str(error).strip()
    if isinstance(error, QuestionError):
        return "请输入要查询的问题:问题不能为空,也不能只有标点符号。"
    if isinstance(error, InputError):
        return f"请求的参数有误:{detail}"
    if isinstance(error, FilterError):
        return f"没有符合筛选条件的文件,请重新选择地区或文件。({detail})"
    if isinstance(error, IndexProblem):
        return index_problem(error)
    if isinstance(error, (EmbeddingError, ConfigError)):
        return f"检索模型无法使用,请联系管理员检查配置(rag.toml)。({detail})"
    if isinstance(error, (LLMError, ModelUnavailable)):
        return f"大模型暂时不可用,请稍后再试。({detail})"
    return "处理这个问题时出错了,请稍后再试;如果问题持续出现,请联系管理员。"
