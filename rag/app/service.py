"""What the web app does, without the UI: one `Service` shared by every session.

The service holds the pipeline (or the error that kept it from opening) and nothing about any
user: conversation turns, found rows and ratings targets live in each session's `gr.State` and
are passed in. Before each question or search it calls `pipeline.reload_if_changed()`, so a
rebuilt index is picked up while serving; when the index was missing at start-up it tries to
open it again once a manifest appears.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rag.app import view as view
from rag.app.feedback import FeedbackLog
from rag.app.status import stale_reasons, status_html, user_message
from rag.errors import InputError, is_expected
from rag.messages import TRUNCATED
from rag.records import UNKNOWN, Answer

log = logging.getLogger("rag.web")

HISTORY_TURNS = 3  # earlier question/answer pairs given to the answerer for follow-ups
STREAM_EVERY = 0.05  # seconds between streamed updates of a growing answer
REOPEN_EVERY = 2.0  # seconds between attempts to open an index that was missing
MAX_DEPARTMENT_ROWS = 100  # most rows one 找部门 search returns (with a query)


@dataclass
class ChatEvent:
    """One step of answering: "pending" (text so far), "final" or "error" (HTML to show)."""

    kind: str
    html: str
    turn: dict | None = None  # with "final": the turn to keep in the session


def history_pairs(turns: list[dict], max_turns: int = HISTORY_TURNS) -> list[tuple[str, str]]:
    """(role, content) pairs of the last answered turns, oldest first."""
    out: list[tuple[str, str]] = []
    for t in [t for t in turns if t.get("answer") is not None][-max_turns:]:
        out.append(("user", t["question"]))
        out.append(("assistant", t["answer"]))
    return out


def turn_record(question: str, answer: Answer, index_version: str | None, msg_index: int) -> dict:
    return {
        "id": secrets.token_hex(8),  # what feedback deduplicates on
        "question": question,
        "answer": answer.text,
        "refused": answer.refused,
        "citations": [c.to_dict() for c in answer.citations],
        "index_version": index_version,
        "msg_index": msg_index,
    }


def _opt(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


class Service:
    def __init__(self, source, cfg, index_dir: str | Path | None = None, feedback: FeedbackLog | None = None):
        """`source`: an open Pipeline, or the exception raised while opening it."""
        self.cfg = cfg
        self._pipeline = None if isinstance(source, BaseException) else source
        self._error: BaseException | None = source if isinstance(source, BaseException) else None
        if index_dir is None:
            index_dir = self._pipeline.index.dir if self._pipeline is not None else cfg.resolve(cfg.index.dir)
        self.index_dir = Path(index_dir)
        self.feedback = feedback or FeedbackLog(cfg.resolve(cfg.app.data_dir), cfg.app.feedback_max_mb,
                                                cfg.app.feedback_per_minute, cfg.app.feedback_line_chars,
                                                cfg.app.max_sessions)
        self._stale: tuple[float, str | None, list[str]] = (0.0, None, [])  # (checked at, version, reasons)
        self._stale_thread: threading.Thread | None = None
        self._reload_warning = ""
        self._lock = threading.Lock()
        self._last_try = 0.0

    # -------------------------------------------------------------- the pipeline
    def current(self):
        """The pipeline (after picking up a rebuilt index), or raise the opening error."""
        if self._pipeline is None:
            self._try_reopen()
        if self._pipeline is None:
            raise self._error  # type: ignore[misc]
        from rag.errors import IndexProblem

        try:
            self._pipeline.reload_if_changed()
            self._reload_warning = ""
        except IndexProblem as e:  # a broken new build: keep serving the version we have
            self._reload_warning = f"新建的索引无法使用,继续使用当前版本:{e}"
            log.warning("index reload failed: %s", e)
        return self._pipeline

    def _try_reopen(self) -> None:
        from rag.errors import IndexProblem
        from rag.index.layout import MANIFEST
        from rag.pipeline import Pipeline

        with self._lock:
            if self._pipeline is not None or time.monotonic() - self._last_try < REOPEN_EVERY:
                return
            self._last_try = time.monotonic()
            if not (self.index_dir / MANIFEST).exists():
                return
            try:
                self._pipeline = Pipeline.from_config(self.cfg, self.index_dir)
                self._error = None
            except IndexProblem as e:
                self._error = e

    def available(self) -> bool:
        try:
            self.current()
            return True
        except Exception:
            return False

    @property
    def index_version(self) -> str | None:
        return self._pipeline.index.version if self._pipeline is not None else None

    def status(self) -> str:
        try:
            pipe = self.current()
        except Exception as e:
            return status_html(None, self.cfg, error=e)
        html = status_html(pipe, self.cfg, stale=self.stale(pipe))
        if self._reload_warning:
            html = html.replace("</div>", f'</div><div class="rag-status-warn">⚠ {view.esc(self._reload_warning)}</div>', 1)
        return html

    def stale(self, pipe) -> list[str]:
        """Why the index no longer matches the corpus folder, as last checked. The folder is
        scanned in the background at most every `app.stale_check_seconds` (a scan of 100k
        files takes seconds: never on a question's path)."""
        checked, version, reasons = self._stale
        due = time.monotonic() - checked >= self.cfg.app.stale_check_seconds or version != pipe.index.version
        if due and (self._stale_thread is None or not self._stale_thread.is_alive()):
            def scan():
                self._stale = (time.monotonic(), pipe.index.version, stale_reasons(pipe, self.cfg))

            self._stale = (time.monotonic(), version, reasons)  # one scan at a time
            self._stale_thread = threading.Thread(target=scan, name="rag-stale-check", daemon=True)
            self._stale_thread.start()
        return reasons if version == pipe.index.version else []

    # -------------------------------------------------------------- filters
    def region_choices(self) -> list[tuple[str, str]]:
        """("地区 (n 份)", region) for each province and region of the indexed documents."""
        try:
            docs = self.current().index.documents()
        except Exception:
            return [("全部地区", "")]
        counts: dict[str, int] = {}
        for d in docs:
            for name in dict.fromkeys((d.meta.province, d.meta.city, d.meta.region)):
                if name and name != UNKNOWN:
                    counts[name] = counts.get(name, 0) + 1
        return [("全部地区", "")] + [(f"{name}({n} 份)", name) for name, n in sorted(counts.items())]

    def doc_choices(self, region: str | None = None) -> list[tuple[str, str]]:
        """("title", doc_id) of the documents, limited to `region` when given."""
        from rag.errors import FilterError
        from rag.retrieve.query import resolve_filters

        try:
            docs = self.current().index.documents()
        except Exception:
            return [("全部文件", "")]
        try:
            allowed = resolve_filters(docs, _opt(region), None)
        except FilterError:
            allowed = set()
        return [("全部文件", "")] + [(view.show(d.meta.title), d.doc_id) for d in docs
                                   if allowed is None or d.doc_id in allowed]

    # -------------------------------------------------------------- questions
    def chat(self, question: str, turns: list[dict], region: str | None = None, doc: str | None = None,
             msg_index: int = 0) -> Iterator[ChatEvent]:
        """Answer `question` as a follow-up of `turns`: pending updates, then a final event (or
        an error event with a user-readable message)."""
        limit = int(self.cfg.question.max_chars)
        cut = isinstance(question, str) and len(question) > limit
        question = question[:limit] if cut else question  # nothing longer is kept or logged
        yield ChatEvent("pending", view.pending_html(""))
        try:
            pipe = self.current().snapshot()  # one index version for the whole answer
            version = pipe.index.version
            index = pipe.index
            text, last = "", 0.0
            final: Answer | None = None
            for event in pipe.ask_stream(question, region=_opt(region), doc=_opt(doc), history=history_pairs(turns)):
                if isinstance(event, Answer):
                    final = event
                    continue
                text += event
                now = time.monotonic()
                if now - last >= STREAM_EVERY:
                    last = now
                    yield ChatEvent("pending", view.pending_html(text))
            if final is None:
                raise RuntimeError("the answerer produced no final answer")
            if cut:
                final.notice = TRUNCATED.format(n=limit)
            html = view.answer_html(final, view.passages_for_answer(index, final))
            yield ChatEvent("final", html, turn_record(question, final, version, msg_index))
        except Exception as e:  # shown in the chat; unexpected ones are logged with a traceback
            if not is_expected(e):
                log.exception("question failed: %r", question[:200])
            yield ChatEvent("error", view.error_html(user_message(e)))

    def ask(self, question: str, region: str | None = None, doc: str | None = None) -> tuple[str, list[dict]]:
        """(answer text, citations as dicts) for the API. A notice (the question was cut to
        the length limit) comes first, in parentheses on its own line, as in the CLI."""
        answer = self.current().ask(question, region=_opt(region), doc=_opt(doc))
        text = f"({answer.notice})\n{answer.text}" if answer.notice else answer.text
        return text, [c.to_dict() for c in answer.citations]

    # -------------------------------------------------------------- 找部门
    def departments(self, query: str | None, region: str | None = None, k: int = 20) -> list[dict]:
        if isinstance(k, bool) or not isinstance(k, (int, float, str)) or not str(k).strip().lstrip("-").isdigit():
            raise InputError(f"k must be a whole number from 1 to {MAX_DEPARTMENT_ROWS}, got {k!r}")
        k = max(1, min(int(k), MAX_DEPARTMENT_ROWS))
        rows = self.current().departments(_opt(query), k=k, region=_opt(region))
        return [r.to_dict() for r in rows]

    def duty_source(self, row: dict) -> str:
        from rag.pipeline import DutyRow

        try:
            return view.duty_source_html(self.current().index, DutyRow(**row))
        except Exception as e:
            if not is_expected(e):
                log.exception("duty source failed")
            return view.error_html(user_message(e))

    # -------------------------------------------------------------- documents
    def documents(self) -> list:
        try:
            return self.current().index.documents()
        except Exception:
            return []

    def document_view(self, doc_id: str | None) -> str:
        if not doc_id:
            return '<div class="rag-empty">在上方表格中点击一份文件,或在下拉框中选择,即可阅读全文。</div>'
        try:
            index = self.current().index
            rec = next((d for d in index.documents() if d.doc_id == doc_id), None)
            doc = index.document(doc_id)
            if rec is None or doc is None:
                return view.error_html("这份文件已不在索引中(索引可能已更新),请刷新页面。")
            return view.document_html(doc, index.sections(doc_id), view.document_meta_rows(rec))
        except Exception as e:
            if not is_expected(e):
                log.exception("document view failed")
            return view.error_html(user_message(e))

    # -------------------------------------------------------------- feedback
    def rate(self, turn: dict, liked: bool, session: str | None = None) -> dict:
        """Record a rating (FeedbackRefused: a repeat, too many, or the log is full)."""
        return self.feedback.rate("up" if liked else "down", turn["question"], turn["answer"],
                                  turn.get("citations", []), turn.get("index_version"), session, turn.get("id"))

    def draft(self, turn: dict, session: str | None = None) -> dict:
        return self.feedback.draft(turn["question"], turn["answer"], turn.get("citations", []), session,
                                   turn.get("id"))


def trim_history(messages: list[dict], turns: list[dict], max_turns: int) -> tuple[list[dict], list[dict]]:
    """Keep the last `max_turns` answered turns of a session: older turns go, with their two chat
    messages, and the kept turns' message indexes (what 👍/👎 refer to) move down with them."""
    if len(turns) <= max_turns:
        return messages, turns
    drop = turns[: len(turns) - max_turns]
    cut = max(t["msg_index"] for t in drop) + 1  # the dropped turns' question and answer messages
    kept = [dict(t, msg_index=t["msg_index"] - cut) for t in turns[len(drop):]]
    return messages[cut:], kept


def find_turn(turns: list[dict], msg_index: Any) -> dict | None:
    """The turn whose answer is chat message `msg_index` (LikeData.index)."""
    if isinstance(msg_index, (list, tuple)):
        msg_index = msg_index[0]
    for t in turns:
        if t.get("msg_index") == msg_index:
            return t
    return None
