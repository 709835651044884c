"""The Gradio app (UI wiring only): 问答, 找部门, 文件 and, for maintainers, 维护 tabs; feedback; API.

`build_app(source, cfg)` returns the Blocks; `source` is an open Pipeline or the exception
raised while opening it (citizens then see one sentence, maintainers what to run). What the
handlers do is in `rag.app.service.Service` (shared, stateless about users), the HTML in
`rag.app.view`, the page's script in `rag.app.script`; per-user data (the conversation, found
rows, the last 👎) lives in `gr.State` (bounded by `app.max_turns` and `app.session_ttl`), and
the conversation is also kept in the browser (`gr.BrowserState`, as data: the server checks and
caps it when it comes back, see `Service.restore`).

A citizen's view by default: the 维护 tab (status details, index problems with the commands to
run, the last failure) and the eval-draft button after 👎 exist only with `[app] admin = true`,
and are shown only to a visitor who passed the login (when one is set) or who is on this machine.

Questions: the send button and Enter are one event with `trigger_mode="always_last"`, so a
question sent while an answer is pending is sent when that answer is done (the box keeps it, and
the page says so), and so does the chatbot's retry button (the last question again); 停止 ends
the answer at its next streamed piece. The server cuts a question to `question.max_chars` and
says so in the answer.

API endpoints (gradio_client): `ask(question, region="", doc="") -> (answer, citations)` and
`departments(query, region="", k=20) -> list of rows`. The UI's own events are private. The
OpenAI-compatible and Dify APIs (`rag.app.api`) are `demo.rag_api`, on the same service.
"""

import html
import os
import secrets
from functools import partial
from pathlib import Path
from types import SimpleNamespace

from rag.app import script, view
from rag.app.feedback import FeedbackRefused
from rag.app.service import (
    Service,
    filter_label,
    find_turn,
    log,
    stored_turns,
    trim_history,
)
from rag.app.status import user_message
from rag.app.style import CSS
from rag.errors import is_expected

TITLE = "法治政府建设文件问答"
EXAMPLES = [
    "陕西要求哪年前建成两法衔接平台?",
    "在利通区办营业执照找哪个部门?",
    "五原县2022年开展了哪些法治宣传活动?",
    "宁夏的实施方案对政务公开有什么要求?",
]
DEPT_EXAMPLES = ["营业执照", "行政复议", "政务公开", "法律顾问"]
PRIVATE = {"api_visibility": "private"}
SEND, BUSY = "发送", "回答中…"
EMPTY_HINT = '<div class="rag-hint" role="status">请先输入要问的问题,例如“在利通区办营业执照找哪个部门?”</div>'
STORAGE_KEY = "rag-conversation-v1"

FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "system-ui", "sans-serif"]


def launch_style() -> dict:
    """theme, css and the page's script for `launch()` (gradio 6 takes them there)."""
    import gradio as gr

    theme = gr.themes.Soft(primary_hue="red", secondary_hue="slate", neutral_hue="slate",
                           font=FONTS, font_mono=["ui-monospace", "monospace"])
    return {"theme": theme, "css": CSS, "js": script.PAGE_JS}


def info(message: str, duration: float = 3, data: str = "") -> None:
    """A toast in Chinese (Gradio's default title is "Info"; the message is HTML: escaped),
    with `data` (an id) after it, marked as such."""
    import gradio as gr

    extra = f' <span class="rag-content">{view.esc(data)}</span>' if data else ""
    gr.Info(view.esc(message) + extra, duration=duration, title="提示")


def api_error(e: BaseException):
    """The one-line message an API caller gets. Bad input (an empty question, an unknown
    region) and index problems are expected: no traceback in the server log for them; anything
    else is logged once with its own traceback."""
    import gradio as gr

    if not is_expected(e):
        log.error("API request failed", exc_info=e)
    return gr.Error(user_message(e), print_exception=False, title="出错了")


def browser_secret(cfg) -> str:
    """The key Gradio's BrowserState uses in the browser, kept in `<data_dir>` so that a
    conversation survives a restart of the server (it is sent to every browser: not a secret,
    which is why the server checks whatever comes back)."""
    path = Path(cfg.resolve(cfg.app.data_dir)) / "browser-state.key"
    try:
        if path.exists():
            value = path.read_text(encoding="ascii").strip()
            if len(value) >= 16:
                return value
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(value)
        return value
    except (OSError, UnicodeDecodeError):
        return secrets.token_urlsafe(24)


def build_app(source, cfg, service: Service | None = None):
    """The Blocks: header, citizens' notice, the tabs, the deep-link bridge and the API routes."""
    import gradio as gr

    svc = service or Service(source, cfg)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.HTML(f'<header class="rag-header"><h1>{TITLE}</h1><p>依据各地法治政府建设实施方案、规划和年度报告回答问题,'
                "每个回答都注明出处,可展开查看原文。</p></header>", js_on_load=None)
        status = gr.HTML(svc.public_status(), elem_id="rag-status", js_on_load=None)
        bridge = gr.HTML("", elem_id="rag-bridge", elem_classes="rag-bridge", js_on_load=script.BRIDGE_JS)
        with gr.Tabs(elem_id="rag-tabs") as tabs:
            chat = chat_tab(svc, cfg, status)
            dept = departments_tab(svc)
            docs = documents_tab(svc)
            admin = admin_tab(svc) if cfg.app.admin else None

        def on_open(evt: gr.SelectData):
            """A "#doc=<id>&at=<start>-<end>" link: the 文件 tab at that passage."""
            link = view.parse_doc_link(evt.value if isinstance(evt.value, str) else "")
            if link is None:
                return gr.skip(), gr.skip(), gr.skip()
            doc_id, start, end = link
            if doc_id not in {d.doc_id for d in svc.documents()}:
                return (gr.Tabs(selected="documents"), gr.skip(),
                        view.error_html("这份文件已不在索引中(索引可能已更新),请刷新页面。"))
            target = None if start is None else (start, max(end, start + 1))
            return gr.Tabs(selected="documents"), gr.update(value=doc_id), svc.document_view(doc_id, target)

        bridge.select(on_open, None, [tabs, docs.pick, docs.view], show_progress="hidden", **PRIVATE)

        load_out = [status, chat.region, chat.doc, dept.region, docs.table, docs.pick, chat.chatbot, chat.messages,
                    chat.turns]
        if admin is not None:
            load_out += [admin.tab, admin.status]

        def on_load(stored, request: gr.Request):
            regions = svc.region_choices()
            msgs, turns = svc.restore(stored)
            out = [svc.public_status(), gr.update(choices=regions), gr.update(choices=svc.doc_choices()),
                   gr.update(choices=regions), svc.documents_html(), gr.update(choices=svc.doc_choices()[1:]),
                   msgs, msgs, turns]
            if admin is not None:
                ok = svc.is_admin(request)
                out += [gr.Tab(visible=ok), svc.admin_status() if ok else ""]
            return out

        demo.load(on_load, [chat.stored], load_out, show_progress="hidden", **PRIVATE)
        api_routes(svc)
    demo.queue(default_concurrency_limit=int(cfg.app.concurrency))
    demo.rag_service = svc  # for tests and tools
    if cfg.api.enabled:  # served by launch(**launch_kwargs(cfg, demo)) on the same port
        from rag.app.api import ApiServer

        demo.rag_api = ApiServer(svc, cfg)
    return demo


def _placeholder(svc: Service) -> str:
    summary = svc.collection_summary()
    return ("<div class='rag-placeholder'><strong>请提出关于法治政府建设的问题</strong><br>"
            "回答只依据已收录的文件,并附上原文出处。"
            + (f"<br><span class='rag-collection'>{view.esc(summary)}</span>" if summary else "") + "</div>")


def _unescape_question(content: str) -> str:
    return html.unescape(str(content or "").replace("<br>", "\n"))


def chat_tab(svc: Service, cfg, status) -> SimpleNamespace:
    """问答: the conversation, the scope filters, stop / retry, feedback (and eval drafts for
    maintainers)."""
    import gradio as gr

    ttl = int(cfg.app.session_ttl)  # an idle session's state is dropped after this many seconds
    limit = int(cfg.question.max_chars)
    max_turns = int(cfg.app.max_turns)
    with gr.Tab("问答", id="chat", elem_id="tab-chat"):  # (states inside a tab: a Tabs child that is no
        # tab makes Gradio draw a tab button twice)
        messages = gr.State([], time_to_live=ttl)  # chat messages shown (HTML content)
        turns = gr.State([], time_to_live=ttl)  # answered turns: question, answer, citations, index version
        disliked = gr.State(None, time_to_live=ttl)  # the turn last rated 👎 (for the eval draft)
        stored = gr.BrowserState([], storage_key=STORAGE_KEY, secret=browser_secret(cfg))  # the conversation, as data
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300, elem_classes="rag-chat-col"):
                chatbot = gr.Chatbot(
                    elem_id="rag-chat", label="对话", show_label=False, height="calc(100dvh - 250px)",
                    layout="panel", placeholder=_placeholder(svc),
                    examples=[{"text": q} for q in EXAMPLES], feedback_options=("Like", "Dislike"),
                    buttons=[], latex_delimiters=[], group_consecutive_messages=False)
                with gr.Row(visible=False, elem_classes="rag-scope-bar", equal_height=True) as scope_bar:
                    scope_now = gr.HTML("", elem_classes="rag-scope-now", js_on_load=None)
                    scope_clear = gr.Button("取消范围", size="sm", variant="secondary", scale=0, min_width=0,
                                            elem_id="rag-scope-clear")
                gr.HTML(f'<div class="rag-ask-status" data-max="{limit}" aria-live="polite"><span class="rag-queued">'
                        '</span><span class="rag-count"></span></div>', js_on_load=None, elem_id="rag-ask-status")
                with gr.Row(elem_classes="rag-ask-row", equal_height=True):
                    question = gr.Textbox(label="问题", placeholder="输入你的问题,按回车发送",
                                          show_label=False, scale=6, min_width=0, lines=1, max_lines=4,
                                          elem_id="rag-question", submit_btn=False, max_length=4 * limit,
                                          container=False)
                    ask_btn = gr.Button(SEND, variant="primary", scale=0, min_width=76, elem_id="rag-ask")
                    stop_btn = gr.Button("停止", variant="stop", scale=0, min_width=76, visible=False, elem_id="rag-stop")
                ask_note = gr.HTML("", elem_classes="rag-ask-note", elem_id="rag-ask-note", js_on_load=None)
            with gr.Column(scale=1, min_width=240, elem_classes="rag-side"):
                gr.Markdown("#### 提问范围\n只在所选地区或文件中查找,对之后的提问生效。")
                region = gr.Dropdown(label="地区", choices=svc.region_choices(), value="", elem_id="rag-region")
                doc = gr.Dropdown(label="文件", choices=svc.doc_choices(), value="", elem_id="rag-doc")
                clear_btn = gr.Button("清空对话", variant="secondary", elem_id="rag-clear")
                gr.Markdown("#### 反馈\n点击回答下方的“赞”或“踩”图标评价回答。只记录问题、回答和出处,用于改进系统。"
                            "对话保存在本机浏览器中,点“清空对话”即删除。", elem_classes="rag-side-note")
                with gr.Group(visible=False) as draft_box:
                    draft_info = gr.Markdown("")
                    draft_btn = gr.Button("转为评测草稿", size="sm", elem_id="rag-draft")

    # -- scope filters
    def on_scope(r, d):
        label = filter_label(svc.documents(), r, d)
        if not label:
            return gr.update(visible=False), ""
        return gr.update(visible=True), f'<span role="status">当前只在{view.esc(label)}中查找</span>'

    def on_region(r):
        return gr.update(choices=svc.doc_choices(r), value="")

    region.change(on_region, region, doc, show_progress="hidden", **PRIVATE)
    gr.on([region.change, doc.change], on_scope, [region, doc], [scope_bar, scope_now], show_progress="hidden",
          **PRIVATE)
    scope_clear.click(lambda: ("", ""), None, [region, doc], show_progress="hidden", **PRIVATE)

    # -- asking
    outs = [question, chatbot, messages, turns, stored, ask_btn, stop_btn, ask_note, status]

    def answer(q, msgs, ts, r, d, session):
        """The updates of one question: the box emptied and the button busy, the answer as it
        streams (until it is done or 停止 is pressed), then the turn kept (in the session and in
        the browser)."""
        shown = q[:limit]  # the server's limit: the answer says that the question was cut
        msgs = msgs + [{"role": "user", "content": view.question_html(shown, svc.mask)},
                       {"role": "assistant", "content": view.pending_html("")}]
        svc.should_stop(session)  # a stop pressed before this question does not stop it
        yield {question: "", chatbot: msgs, messages: msgs, ask_btn: gr.update(value=BUSY),
               stop_btn: gr.update(visible=True, value="停止"), ask_note: ""}
        events = svc.chat(q, ts, r, d, msg_index=len(msgs) - 1)
        for ev in events:
            if ev.kind == "pending" and svc.should_stop(session):
                events.close()
                kept = ev.html.replace(" rag-streaming", "") if "rag-streaming" in ev.html else ""
                msgs = msgs[:-1] + [{"role": "assistant", "content": kept + view.stopped_html()}]
                yield {chatbot: msgs, messages: msgs, ask_btn: gr.update(value=SEND), stop_btn: gr.update(visible=False)}
                return
            msgs = msgs[:-1] + [{"role": "assistant", "content": ev.html}]
            if ev.kind == "pending":
                yield {chatbot: msgs, messages: msgs}
                continue
            out = {chatbot: msgs, messages: msgs, ask_btn: gr.update(value=SEND), stop_btn: gr.update(visible=False),
                   status: svc.public_status()}
            if ev.turn is not None:
                msgs, ts = trim_history(msgs, ts + [ev.turn], max_turns)
                out.update({chatbot: msgs, messages: msgs, turns: ts, stored: stored_turns(ts, svc.mask)})
            yield out

    def retry(msgs, ts, r, d, session):
        """Ask the last question again (its answer and turn are replaced)."""
        msgs, ts = list(msgs or []), list(ts or [])
        users = [i for i, m in enumerate(msgs) if m.get("role") == "user"]
        if not users:
            yield {ask_note: ""}
            return
        i = users[-1]
        turn = next((t for t in ts if t.get("msg_index") == i + 1), None)
        q = turn["question"] if turn else _unescape_question(msgs[i].get("content"))
        yield from answer(q, msgs[:i], [t for t in ts if t.get("msg_index", 0) < i], r, d, session)

    def on_ask(q, msgs, ts, r, d, evt: gr.EventData, request: gr.Request):
        """One event for the send button, Enter, an example of the empty chat and the chatbot's
        retry button, so that any of them sent while an answer is pending waits for it."""
        session = getattr(request, "session_hash", None)
        data = getattr(evt, "_data", None)
        picked = data.get("value") if isinstance(data, dict) else None
        if isinstance(picked, dict) and isinstance(picked.get("text"), str):  # an example
            q = picked["text"]
        elif isinstance(data, dict) and "index" in data:  # the retry button of the last answer
            yield from retry(msgs, ts, r, d, session)
            return
        q = (q if isinstance(q, str) else "").strip()
        if not q:
            yield {ask_note: EMPTY_HINT}
            return
        yield from answer(q, msgs or [], ts or [], r, d, session)

    gr.on([ask_btn.click, question.submit, chatbot.example_select, chatbot.retry], on_ask,
                   [question, messages, turns, region, doc], outs, trigger_mode="always_last",
                   show_progress="hidden", **PRIVATE)

    def on_stop(request: gr.Request):
        """停止: the answer ends at its next streamed piece, keeping what it has said (not a
        Gradio `cancels`, whose race with the stream can show an error on the chat)."""
        svc.request_stop(getattr(request, "session_hash", None))
        return gr.update(value="正在停止…")

    stop_btn.click(on_stop, None, stop_btn, show_progress="hidden", **PRIVATE)

    def on_clear():
        return [], [], [], [], None, gr.update(visible=False), "", ""

    clear_out = [chatbot, messages, turns, stored, disliked, draft_box, question, ask_note]
    clear_btn.click(on_clear, None, clear_out, show_progress="hidden", **PRIVATE)
    chatbot.clear(on_clear, None, clear_out, show_progress="hidden", **PRIVATE)

    # -- feedback
    def on_like(ts, evt: gr.LikeData, request: gr.Request):
        turn = find_turn(ts, evt.index)
        if turn is None or evt.liked not in (True, False):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            svc.rate(turn, evt.liked, getattr(request, "session_hash", None))
        except FeedbackRefused as e:
            info(str(e))
            return gr.skip(), gr.skip(), gr.skip()
        if evt.liked:
            info("感谢反馈!")
            return None, gr.update(visible=False), gr.skip()
        info("已记录,感谢反馈。")
        if not svc.is_admin(request):
            return None, gr.update(visible=False), gr.skip()
        note = f"已记录“踩”:「{view.esc(turn['question'][:40])}」。可以把它转为评测草稿,由维护人员补全后加入评测集。"
        return turn, gr.update(visible=True), note

    chatbot.like(on_like, turns, [disliked, draft_box, draft_info], show_progress="hidden", **PRIVATE)

    def on_draft(turn, request: gr.Request):
        if not turn or not svc.is_admin(request):
            return None, gr.update(visible=False)
        try:
            rec = svc.draft(turn, getattr(request, "session_hash", None))
        except FeedbackRefused as e:
            info(str(e))
            return None, gr.update(visible=False)
        info("已生成评测草稿", duration=4, data=rec["id"])
        return None, gr.update(visible=False)

    draft_btn.click(on_draft, disliked, [disliked, draft_box], show_progress="hidden", **PRIVATE)
    return SimpleNamespace(region=region, doc=doc, question=question, chatbot=chatbot, messages=messages,
                           turns=turns, stored=stored)


def departments_tab(svc: Service) -> SimpleNamespace:
    """找部门: who leads and supports the measures matching a topic; a row opens its source."""
    import gradio as gr

    hint = '<div class="rag-empty">输入事项后点“查找”;点击结果中的一行,在这里查看原文。</div>'
    with gr.Tab("找部门", id="departments", elem_id="tab-departments"):
        duty_rows = gr.State([], time_to_live=int(svc.cfg.app.session_ttl))  # rows of the last search
        gr.Markdown("输入要办的事或工作事项,查看哪个部门**牵头**、哪些部门**配合**、期限是什么。点击结果中的一行查看原文。")
        with gr.Row(equal_height=False, elem_classes="rag-search-row"):
            query = gr.Textbox(label="事项", placeholder="例如:营业执照、行政复议、政务公开", scale=4, min_width=180,
                               elem_id="rag-dept-query")
            region = gr.Dropdown(label="地区", choices=svc.region_choices(), value="", scale=2, min_width=150,
                                 elem_id="rag-dept-region")
            search_btn = gr.Button("查找", variant="primary", scale=0, min_width=80, elem_id="rag-dept-search")
        with gr.Row(elem_classes="rag-chips"):
            chips = [gr.Button(q, size="sm", variant="secondary", scale=0, min_width=0, elem_classes="rag-chip")
                     for q in DEPT_EXAMPLES]
        table = gr.HTML("", elem_id="rag-dept-table", js_on_load=script.ROWS_JS)
        source = gr.HTML(hint, elem_id="rag-dept-source", js_on_load=script.reveal_js(".rag-duty", narrow_only=True))

    def on_search(q, r):
        q = (q if isinstance(q, str) else "").strip()[:200]
        if not q:
            return "", [], '<div class="rag-hint" role="status">请先输入要查的事项,例如“营业执照”。</div>'
        try:
            rows = svc.departments(q, r)
        except Exception as e:
            svc.note_problem(e)
            from rag.errors import public_message

            return "", [], view.error_html(public_message(e))
        if not rows:
            where = f"在「{view.esc(r)}」的文件中" if r else "在已收录的文件中"
            return "", [], (f'<div class="rag-empty rag-none" role="status">未找到:{where}没有与「{view.esc(q)}」相关的分工。'
                            "请换个说法试试(例如“营业执照”“行政复议”),或到“问答”中提问。</div>")
        return view.duty_cards(rows, q), rows, hint.replace("输入事项后点“查找”;点击结果中的一行", "点击结果中的一行")

    io = dict(inputs=[query, region], outputs=[table, duty_rows, source])
    search_btn.click(on_search, **io, show_progress="minimal", **PRIVATE)
    query.submit(on_search, **io, show_progress="minimal", **PRIVATE)
    for chip in chips:
        chip.click(partial(lambda text, r: (text, *on_search(text, r)), chip.value), [region],
                   [query, table, duty_rows, source], show_progress="minimal", **PRIVATE)

    def on_select(rows, evt: gr.SelectData):
        i = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not rows or not isinstance(i, int) or not 0 <= i < len(rows):
            return gr.skip()
        return svc.duty_source(rows[i])

    table.select(on_select, duty_rows, source, show_progress="hidden", **PRIVATE)
    return SimpleNamespace(region=region)


def documents_tab(svc: Service) -> SimpleNamespace:
    """文件: the indexed documents and their text by section."""
    import gradio as gr

    with gr.Tab("文件", id="documents", elem_id="tab-documents"):
        gr.Markdown("已收录的文件。点击一行(或在下拉框中选择)阅读全文,文中按章节排列;回答的出处可以直接在这里打开。")
        table = gr.HTML(svc.documents_html(), elem_id="rag-docs-table", js_on_load=script.ROWS_JS)
        pick = gr.Dropdown(label="阅读文件", choices=svc.doc_choices()[1:], value=None, elem_id="rag-doc-pick")
        doc_view = gr.HTML(svc.document_view(None), elem_id="rag-doc-view",
                           js_on_load=script.reveal_js(".rag-target, .rag-doc-target", narrow_fallback=".rag-doc"))

    def on_select(evt: gr.SelectData):
        doc_id = evt.value if isinstance(evt.value, str) else None
        if not doc_id or doc_id not in {d.doc_id for d in svc.documents()}:
            return gr.skip(), gr.skip()
        return gr.update(value=doc_id), svc.document_view(doc_id)

    table.select(on_select, None, [pick, doc_view], show_progress="hidden", **PRIVATE)
    pick.input(svc.document_view, pick, doc_view, show_progress="hidden", **PRIVATE)
    return SimpleNamespace(table=table, pick=pick, view=doc_view)


def admin_tab(svc: Service) -> SimpleNamespace:
    """维护 (only with `[app] admin`, shown to maintainers): the status details, index problems
    with the commands to run, and the last failure of a question."""
    import gradio as gr

    with gr.Tab("维护", id="admin", elem_id="tab-admin", visible=False) as tab:
        gr.Markdown("面向维护人员:模型、索引版本、需要运行的命令,以及最近一次出错的详情。"
                    "“踩”过的回答可以在“问答”中转为评测草稿。")
        status = gr.HTML("", elem_id="rag-admin-status", js_on_load=None)
        refresh = gr.Button("刷新", size="sm", variant="secondary", elem_id="rag-admin-refresh")

    def on_refresh(request: gr.Request):
        return svc.admin_status() if svc.is_admin(request) else ""

    refresh.click(on_refresh, None, status, show_progress="hidden", **PRIVATE)
    return SimpleNamespace(tab=tab, status=status)


def api_routes(svc: Service) -> None:
    """The API for gradio_client: `ask` and `departments` (the UI's own events are private)."""
    import gradio as gr

    def ask(question: str, region: str = "", doc: str = "") -> tuple[str, list[dict]]:
        """Answer a question; returns (answer text with [n] markers, citations as dicts with
        n, doc_id, title, section, text, start, end). A question over the length limit is
        cut, and the text then starts with a line "(问题过长,已截取前 N 个字)"."""
        try:
            return svc.ask(question, region, doc)
        except Exception as e:
            raise api_error(e) from None

    def departments(query: str, region: str = "", k: int = 20) -> list[dict]:
        """Who leads (lead) and supports (support) each measure matching `query` (all when
        empty): rows with measure, lead, support, deadlines, title, section, note, offsets."""
        try:
            return svc.departments(query, region, int(k))
        except Exception as e:
            raise api_error(e) from None

    gr.api(ask, api_name="ask")
    gr.api(departments, api_name="departments")
