"""What the web app does, without the UI: one `Service` shared by every session.

The service holds the pipeline (or the error that kept it from opening) and nothing about any
user: conversation turns, found rows and ratings targets live in each session's `gr.State` and
are passed in. Before each question or search it calls `pipeline.reload_if_changed()`, so a
rebuilt index is picked up while serving; when the index was missing at start-up it tries to
open it again once a manifest appears.

Two audiences: citizens see `public_status()` and, for a failed question, the error's public
sentence (`rag.errors.public_message`: no command, no setting); maintainers (`is_admin`, the
维护 tab) see `status()` with the models, the index version and what to run, and the last
problem a question met. A conversation is kept in the browser as data (`stored_turns`), never as
HTML, and what comes back from the browser is checked and capped (`restore`) before use.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from rag.app import view as view
from rag.app.feedback import FeedbackLog
from rag.app.status import stale_reasons, status_html, user_message
from rag.errors import InputError, is_expected, public_message
from rag.messages import TRUNCATED
from rag.records import PATH_SEP, UNKNOWN, Answer, Citation

log = logging.getLogger("rag.web")

HISTORY_TURNS = 3  # earlier question/answer pairs given to the answerer for follow-ups
STREAM_EVERY = 0.05  # seconds between streamed updates of a growing answer
REOPEN_EVERY = 2.0  # seconds between attempts to open an index that was missing
MAX_DEPARTMENT_ROWS = 100  # most rows one 找部门 search returns (with a query)
STORED_ANSWER_CHARS = 20_000  # longest answer text taken back from the browser
STORED_CITATIONS = 20  # most citations of one answer taken back from the browser
STORED_FIELD_CHARS = 2_000  # longest title, section or quote of a citation taken back
FOLLOWUPS = 3  # suggested follow-up questions under an answer


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


def turn_record(question: str, answer: Answer, index_version: str | None, msg_index: int,
                region: str | None = None, doc: str | None = None) -> dict:
    return {
        "id": secrets.token_hex(8),  # what feedback deduplicates on
        "question": question,
        "answer": answer.text,
        "refused": answer.refused,
        "notice": answer.notice,
        "citations": [c.to_dict() for c in answer.citations],
        "index_version": index_version,
        "msg_index": msg_index,
        "region": region or "",
        "doc": doc or "",
    }


# ------------------------------------------------------------------ the conversation in the browser

STORED_KEYS = ("question", "answer", "refused", "notice", "citations", "region", "doc")


def stored_turns(turns: list[dict], mask: bool = True) -> list[dict]:
    """What the browser keeps of a conversation (data, not HTML): the answered turns, personal
    data masked when the page masks it."""
    out = []
    for t in turns:
        if t.get("answer") is None:
            continue
        rec = {k: t.get(k) for k in STORED_KEYS}
        rec["question"] = view.shown(str(rec["question"] or ""), mask)
        rec["answer"] = view.shown(str(rec["answer"] or ""), mask)
        rec["citations"] = [dict(c, text=view.shown(str(c.get("text", "")), mask)) for c in rec["citations"] or []]
        out.append(rec)
    return out


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**9 else None


def checked_turns(raw: Any, max_turns: int, max_question: int) -> list[dict]:
    """The turns of a conversation sent back by the browser, checked: a list of at most
    `max_turns` (the last ones) dicts of the shape `stored_turns` writes, strings capped, numbers
    in range; anything else is dropped, never trusted (the browser's copy can be edited)."""
    if not isinstance(raw, list):
        return []
    out = []
    for t in raw[-max_turns:] if max_turns > 0 else []:
        if not isinstance(t, dict):
            continue
        question = _text(t.get("question"), max_question)
        answer = _text(t.get("answer"), STORED_ANSWER_CHARS)
        if not question or not question.strip() or answer is None:
            continue
        cites = []
        for c in t.get("citations") if isinstance(t.get("citations"), list) else []:
            if len(cites) >= STORED_CITATIONS or not isinstance(c, dict):
                continue
            n, start, end = _int(c.get("n")), _int(c.get("start")), _int(c.get("end"))
            fields = {k: _text(c.get(k), STORED_FIELD_CHARS) for k in ("doc_id", "title", "section", "text")}
            if n is None or start is None or end is None or end < start or any(v is None for v in fields.values()):
                continue
            page = _int(c.get("page"))
            cites.append({"n": n, **fields, "start": start, "end": end, **({"page": page} if page else {})})
        out.append({"question": question, "answer": answer, "refused": t.get("refused") is True,
                    "notice": _text(t.get("notice"), 200) or "", "citations": cites,
                    "region": _text(t.get("region"), 100) or "", "doc": _text(t.get("doc"), 400) or ""})
    return out


def answer_of(turn: dict) -> Answer:
    return Answer(question=turn["question"], text=turn["answer"], refused=bool(turn.get("refused")),
                  notice=turn.get("notice") or "", citations=[Citation(**c) for c in turn.get("citations", [])])


# ------------------------------------------------------------------ follow-up suggestions

_NUMBERING = re.compile(r"^\s*(?:[一二三四五六七八九十百]+[、.．]|[(（][一二三四五六七八九十\d]+[)）]|\d+[.．、)）]|"
                        r"[一二三四五六七八九十]+是)\s*")


def topic_of(heading: str) -> str:
    """A section heading as a topic: numbering, the sentence after the first one and the
    trailing punctuation removed ("5.加强市场监管。" → "加强市场监管"); "" when nothing is left."""
    t = _NUMBERING.sub("", heading or "").strip()
    t = re.split(r"[。;;::!?!?]", t, maxsplit=1)[0]
    t = t.split(",")[0] if len(t) > 24 else t
    t = re.sub(r"^[\s,、,.]+|[\s,、,.]+$", "", t)
    return t if 4 <= len(t) <= 30 else ""


def suggest_followups(sections: list, citation: Citation, meta, question: str, k: int = FOLLOWUPS) -> list[str]:
    """Up to `k` next questions about the sections around the first citation, from the same
    document: the cited part's neighbours (next first), then the part it belongs to. Each names
    the document's place, so that it stands on its own; none repeats a topic of the question."""
    path = tuple(p for p in (citation.section or "").split(PATH_SEP) if p)
    by_path = {tuple(s.path): s for s in sections}
    titled = [s for s in sections if s.heading and topic_of(s.heading)]
    # the deepest section on the citation's path with a topic of its own
    anchor = next((path[:i] for i in range(len(path), 0, -1) if topic_of(path[i - 1])), ())
    parent = anchor[:-1]
    siblings = [s for s in titled if tuple(s.path[:-1]) == parent and len(s.path) == len(anchor)]
    pos = next((i for i, s in enumerate(siblings) if tuple(s.path) == anchor), -1)
    ordered = siblings[pos + 1:] + list(reversed(siblings[:max(pos, 0)])) if pos >= 0 else siblings
    topics = [topic_of(s.heading) for s in ordered]
    if parent and parent in by_path and topic_of(by_path[parent].heading):
        topics.insert(min(2, len(topics)), topic_of(by_path[parent].heading))
    place = meta.region if getattr(meta, "region", UNKNOWN) not in (UNKNOWN, "", None) else ""
    report = getattr(meta, "doc_type", "") == "annual_report"  # what was done, not what is required
    out: list[str] = []
    for t in topics:
        if t in question or any(t in q for q in out):
            continue
        where = place if place and place not in t else ""
        quoted = f"「{t}」" if "“" in t else f"“{t}”"
        out.append(f"{where}在{quoted}方面做了哪些工作?" if report else f"{where}在{quoted}方面有哪些要求?")
        if len(out) >= k:
            break
    return out


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
        self._problem: tuple[float, str] | None = None  # (when, maintainers' message) of the last failure
        self._stops: OrderedDict[str, None] = OrderedDict()  # sessions whose answer is to stop (停止)

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
        """The maintainers' status line: models, index version, what to run when it is wrong."""
        try:
            pipe = self.current()
        except Exception as e:
            return status_html(None, self.cfg, error=e)
        html = status_html(pipe, self.cfg, stale=self.stale(pipe))
        if self._reload_warning:
            html = html.replace("</div>", f'</div><div class="rag-status-warn">⚠ {view.esc(self._reload_warning)}</div>', 1)
        return html

    def public_status(self) -> str:
        """What citizens see above the tabs: nothing while the documents can be searched, else
        one sentence without commands."""
        try:
            self.current()
        except Exception as e:
            return f'<div class="rag-status rag-status-error" role="alert">⚠ {view.esc(public_message(e))}</div>'
        return ""

    def admin_status(self) -> str:
        """The 维护 tab: `status()` and the last problem a question or search met."""
        html = self.status()
        if self._problem:
            when, msg = self._problem
            html += (f'<div class="rag-status rag-status-warn rag-admin-problem"><strong>最近一次出错</strong>'
                     f'({time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))}):{view.esc(msg)}</div>')
        return html

    def note_problem(self, e: BaseException) -> None:
        """Keep the maintainers' wording of a failure for the 维护 tab."""
        self._problem = (time.time(), user_message(e))

    def is_admin(self, request) -> bool:
        """Whether this visitor may see the 维护 tab: `[app] admin` on, and the page's login
        passed when one is set, else a visitor on this machine (the app on 127.0.0.1)."""
        if not self.cfg.app.admin:
            return False
        if (self.cfg.app.auth or "").strip():
            return bool(getattr(request, "username", None))
        from rag.app.access import is_loopback

        client = getattr(getattr(request, "client", None), "host", None)
        return is_loopback(self.cfg.app.host) and bool(client) and is_loopback(client)

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
        an error event with the error's public sentence). The question is cut to
        `question.max_chars` here, with a notice in the answer."""
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
                    yield ChatEvent("pending", view.pending_html(text, self.mask))
            if final is None:
                raise RuntimeError("the answerer produced no final answer")
            if cut:
                final.notice = TRUNCATED.format(n=limit)
            turn = turn_record(question, final, version, msg_index, _opt(region), _opt(doc))
            yield ChatEvent("final", self.answer_view(index, turn), turn)
        except Exception as e:  # shown in the chat; unexpected ones are logged with a traceback
            if not is_expected(e):
                log.exception("question failed: %r", question[:200])
            self.note_problem(e)
            yield ChatEvent("error", view.error_html(public_message(e)))

    def request_stop(self, session: str | None) -> None:
        """停止: the session's answer ends at its next streamed piece (`should_stop`)."""
        with self._lock:
            self._stops[session or ""] = None
            self._stops.move_to_end(session or "")
            while len(self._stops) > int(self.cfg.app.max_sessions):
                self._stops.popitem(last=False)

    def should_stop(self, session: str | None) -> bool:
        """Whether the session asked to stop since it last asked (the request is used up)."""
        with self._lock:
            return self._stops.pop(session or "", False) is None

    @property
    def mask(self) -> bool:
        return bool(self.cfg.app.mask_personal)

    def answer_view(self, index, turn: dict) -> str:
        """The HTML of an answered turn: answer, scope line, sources, follow-ups."""
        answer = answer_of(turn)
        followups: list[str] = []
        if not answer.refused and answer.citations:
            c = answer.citations[0]
            doc = index.document(c.doc_id)
            if doc is not None:
                followups = suggest_followups(index.sections(c.doc_id), c, doc.meta, turn["question"])
        docs = index.documents()
        return view.answer_html(answer, view.passages_for_answer(index, answer, self.mask),
                                view.scopes_for_answer(index, answer), followups,
                                filters=filter_label(docs, turn.get("region"), turn.get("doc")),
                                warning=scope_warning(docs, turn["question"], turn.get("region"), turn.get("doc")),
                                mask=self.mask)

    def restore(self, raw: Any) -> tuple[list[dict], list[dict]]:
        """(chat messages, turns) of a conversation the browser kept (`stored_turns`), checked
        (`checked_turns`) and shown again from the current index."""
        kept = checked_turns(raw, int(self.cfg.app.max_turns), int(self.cfg.question.max_chars))
        if not kept:
            return [], []
        try:
            index = self.current().index
        except Exception:
            return [], []
        messages: list[dict] = []
        turns: list[dict] = []
        for t in kept:
            try:
                turn = dict(t, id=secrets.token_hex(8), index_version=None, msg_index=len(messages) + 1)
                html = self.answer_view(index, turn)
            except Exception:  # a turn that cannot be shown again is left out
                log.warning("a stored turn could not be shown again", exc_info=True)
                continue
            messages += [{"role": "user", "content": view.question_html(turn["question"], self.mask)},
                         {"role": "assistant", "content": html}]
            turns.append(turn)
        return messages, turns

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
            return view.duty_source_html(self.current().index, DutyRow(**row), self.mask)
        except Exception as e:
            if not is_expected(e):
                log.exception("duty source failed")
            self.note_problem(e)
            return view.error_html(public_message(e))

    # -------------------------------------------------------------- documents
    def documents(self) -> list:
        try:
            return self.current().index.documents()
        except Exception:
            return []

    def document_view(self, doc_id: str | None, target: tuple[int, int] | None = None) -> str:
        """A document by section; with `target` (offsets), that passage marked for the page to
        scroll to."""
        if not doc_id:
            return '<div class="rag-empty">在上方表格中点击一份文件,或在下拉框中选择,即可阅读全文。</div>'
        try:
            index = self.current().index
            rec = next((d for d in index.documents() if d.doc_id == doc_id), None)
            doc = index.document(doc_id) if rec is not None else None
            if rec is None or doc is None:
                return view.error_html("这份文件已不在索引中(索引可能已更新),请刷新页面。")
            if target is not None:
                start, end = target
                target = (start, end) if 0 <= start < end <= len(doc.text) else None
            return view.document_html(doc, index.sections(doc_id), view.document_meta_rows(rec), target=target,
                                      mask=self.mask)
        except Exception as e:
            if not is_expected(e):
                log.exception("document view failed")
            self.note_problem(e)
            return view.error_html(public_message(e))

    def documents_html(self) -> str:
        return view.document_cards(self.documents())

    def collection_summary(self) -> str:
        """"已收录 5 份文件,涉及…" for the empty chat (what the answers can come from)."""
        docs = self.documents()
        if not docs:
            return ""
        places = list(dict.fromkeys(d.meta.region for d in docs if d.meta.region not in (UNKNOWN, "")))
        where = f",涉及{'、'.join(places[:8])}{'等地' if len(places) > 8 else ''}" if places else ""
        return f"已收录 {len(docs)} 份文件{where}。"

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


def filter_label(docs: list, region: str | None, doc: str | None) -> str:
    """The scope filters in words: "「陕西省」的文件", "《…》", "" when none is set."""
    parts = []
    if region:
        parts.append(f"「{region}」的文件")
    if doc:
        title = next((d.meta.title for d in docs if d.doc_id == doc), doc)
        parts.append(f"《{title}》")
    return "、".join(parts) if len(parts) < 2 else f"{parts[0]}中的{parts[1]}"


def scope_warning(docs: list, question: str, region: str | None, doc: str | None) -> str:
    """A notice when the question names a place that the scope filters leave out ("" if none)."""
    if not (region or doc) or not question:
        return ""
    from rag.retrieve.query import match_docs, resolve_filters
    from rag.text.places import find_regions

    try:
        allowed = resolve_filters(docs, _opt(region), _opt(doc)) or set()
        named = find_regions(question)
    except Exception:  # a notice must never fail an answer
        return ""
    outside = []
    for m in named:
        if not set(match_docs(m.region, docs)) & allowed and m.region.name not in outside:
            outside.append(m.region.name)
    if not outside:
        return ""
    return (f"问题提到「{'、'.join(outside)}」,但提问范围限定为{filter_label(docs, region, doc)}:"
            "回答只来自这个范围。要查其他地方,请在“提问范围”中改为“全部地区”。")
