"""The Gradio app (UI wiring only): 问答, 找部门 and 文件 tabs, status line, feedback, API.

`build_app(source, cfg)` returns the Blocks; `source` is an open Pipeline or the exception
raised while opening it (the page then shows what to run). What the handlers do is in
`rag.app.service.Service` (shared, stateless about users) and the HTML in `rag.app.view`;
per-user data (the conversation, found rows, the last 👎) lives in `gr.State`.

API endpoints (gradio_client): `ask(question, region="", doc="") -> (answer, citations)` and
`departments(query, region="", k=20) -> list of rows`. The UI's own events are private. The
OpenAI-compatible and Dify APIs (`rag.app.api`) are `demo.rag_api`, on the same service.
"""

from types import SimpleNamespace

from rag.app import view
from rag.app.feedback import FeedbackRefused
from rag.app.service import Service, find_turn, log, trim_history
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

FONTS = ["PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "system-ui", "sans-serif"]


def launch_style() -> dict:
    """theme and css for `launch()` (gradio 6 takes them there, not in `Blocks()`)."""
    import gradio as gr

    theme = gr.themes.Soft(primary_hue="red", secondary_hue="slate", neutral_hue="slate",
                           font=FONTS, font_mono=["ui-monospace", "monospace"])
    return {"theme": theme, "css": CSS}


def api_error(e: BaseException):
    """The one-line message an API caller gets. Bad input (an empty question, an unknown
    region) and index problems are expected: no traceback in the server log for them; anything
    else is logged once with its own traceback."""
    import gradio as gr

    if not is_expected(e):
        log.error("API request failed", exc_info=e)
    return gr.Error(user_message(e), print_exception=False)


def build_app(source, cfg, service: Service | None = None):
    """The Blocks: header, status line, the three tabs and the API routes."""
    import gradio as gr

    svc = service or Service(source, cfg)
    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        gr.HTML(f'<header class="rag-header"><h1>{TITLE}</h1><p>依据各地法治政府建设实施方案、规划和年度报告回答问题,'
                "每个回答都注明出处,可展开查看原文。</p></header>")
        status = gr.HTML(svc.status(), elem_id="rag-status")
        with gr.Tabs():
            chat = chat_tab(svc, cfg, status)
            dept = departments_tab(svc)
            docs = documents_tab(svc)

        def on_load():
            regions = svc.region_choices()
            return (svc.status(), gr.update(choices=regions), gr.update(choices=svc.doc_choices()),
                    gr.update(choices=regions), view.document_rows(svc.documents()),
                    gr.update(choices=svc.doc_choices()[1:]))

        demo.load(on_load, None, [status, chat.region, chat.doc, dept.region, docs.table, docs.pick],
                  show_progress="hidden", **PRIVATE)
        api_routes(svc)
    demo.queue(default_concurrency_limit=int(cfg.app.concurrency))
    demo.rag_service = svc  # for tests and tools
    if cfg.api.enabled:  # served by launch(**launch_kwargs(cfg, demo)) on the same port
        from rag.app.api import ApiServer

        demo.rag_api = ApiServer(svc, cfg)
    return demo


def chat_tab(svc: Service, cfg, status) -> SimpleNamespace:
    """问答: the conversation, the scope filters, feedback and the eval-draft button."""
    import gradio as gr

    ttl = int(cfg.app.session_ttl)  # an idle session's state is dropped after this many seconds
    messages = gr.State([], time_to_live=ttl)  # chat messages shown (HTML content)
    turns = gr.State([], time_to_live=ttl)  # answered turns: question, answer, citations, index version
    disliked = gr.State(None, time_to_live=ttl)  # the turn last rated 👎 (for the eval draft)
    with gr.Tab("问答", id="chat", elem_id="tab-chat"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=420):
                chatbot = gr.Chatbot(
                    elem_id="rag-chat", label="对话", show_label=False, height=600, layout="panel",
                    placeholder="<div class='rag-placeholder'><strong>请提出关于法治政府建设的问题</strong><br>"
                                "回答只依据已收录的文件,并附上原文出处。</div>",
                    examples=[{"text": q} for q in EXAMPLES], feedback_options=("Like", "Dislike"),
                    buttons=["copy"], latex_delimiters=[], group_consecutive_messages=False)
                with gr.Row(elem_classes="rag-ask-row"):
                    question = gr.Textbox(placeholder="输入问题,例如:在利通区办营业执照找哪个部门?", show_label=False,
                                          scale=6, max_lines=4, autofocus=True, elem_id="rag-question", submit_btn=False,
                                          max_length=int(cfg.question.max_chars))
                    ask_btn = gr.Button("提问", variant="primary", scale=1, min_width=90, elem_id="rag-ask")
            with gr.Column(scale=1, min_width=240, elem_classes="rag-side"):
                gr.Markdown("#### 提问范围\n只在所选地区或文件中查找,对之后的提问生效。")
                region = gr.Dropdown(label="地区", choices=svc.region_choices(), value="", elem_id="rag-region")
                doc = gr.Dropdown(label="文件", choices=svc.doc_choices(), value="", elem_id="rag-doc")
                clear_btn = gr.Button("清空对话", variant="secondary", elem_id="rag-clear")
                gr.Markdown("#### 反馈\n点击回答下方的“赞”或“踩”图标评价回答。只记录问题、回答和出处,用于改进系统。",
                            elem_classes="rag-side-note")
                with gr.Group(visible=False) as draft_box:
                    draft_info = gr.Markdown("")
                    draft_btn = gr.Button("转为评测草稿", size="sm", elem_id="rag-draft")

    def on_region(r):
        return gr.update(choices=svc.doc_choices(r), value="")

    region.change(on_region, region, doc, **PRIVATE)

    def on_ask(q, msgs, ts, r, d):
        q = (q if isinstance(q, str) else "").strip()[: int(cfg.question.max_chars)]  # the server's limit
        if not q:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        msgs = msgs + [{"role": "user", "content": view.question_html(q)}, {"role": "assistant", "content": ""}]
        for ev in svc.chat(q, ts, r, d, msg_index=len(msgs) - 1):
            msgs = msgs[:-1] + [{"role": "assistant", "content": ev.html}]
            if ev.turn is not None:
                msgs, ts = trim_history(msgs, ts + [ev.turn], int(cfg.app.max_turns))
            yield "", msgs, msgs, ts, (svc.status() if ev.kind != "pending" else gr.skip())

    ask_io = dict(inputs=[question, messages, turns, region, doc], outputs=[question, chatbot, messages, turns, status])
    ask_btn.click(on_ask, **ask_io, **PRIVATE)
    question.submit(on_ask, **ask_io, **PRIVATE)

    def on_example(evt: gr.SelectData):
        return evt.value["text"] if isinstance(evt.value, dict) else str(evt.value)

    chatbot.example_select(on_example, None, question, **PRIVATE).then(on_ask, **ask_io, **PRIVATE)

    def on_clear():
        return [], [], [], None, gr.update(visible=False), ""

    clear_btn.click(on_clear, None, [chatbot, messages, turns, disliked, draft_box, question], **PRIVATE)
    chatbot.clear(on_clear, None, [chatbot, messages, turns, disliked, draft_box, question], **PRIVATE)

    def on_like(ts, evt: gr.LikeData, request: gr.Request):
        turn = find_turn(ts, evt.index)
        if turn is None or evt.liked not in (True, False):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            svc.rate(turn, evt.liked, getattr(request, "session_hash", None))
        except FeedbackRefused as e:
            gr.Info(str(e), duration=3)
            return gr.skip(), gr.skip(), gr.skip()
        if evt.liked:
            gr.Info("感谢反馈!", duration=3)
            return None, gr.update(visible=False), gr.skip()
        gr.Info("已记录,感谢反馈。", duration=3)
        note = f"已记录“踩”:「{view.esc(turn['question'][:40])}」。可以把它转为评测草稿,由维护人员补全后加入评测集。"
        return turn, gr.update(visible=True), note

    chatbot.like(on_like, turns, [disliked, draft_box, draft_info], **PRIVATE)

    def on_draft(turn, request: gr.Request):
        if not turn:
            return gr.skip(), gr.skip()
        try:
            rec = svc.draft(turn, getattr(request, "session_hash", None))
        except FeedbackRefused as e:
            gr.Info(str(e), duration=3)
            return None, gr.update(visible=False)
        gr.Info(f"已生成评测草稿 {rec['id']}", duration=4)
        return None, gr.update(visible=False)

    draft_btn.click(on_draft, disliked, [disliked, draft_box], **PRIVATE)
    return SimpleNamespace(region=region, doc=doc, question=question, chatbot=chatbot)


def departments_tab(svc: Service) -> SimpleNamespace:
    """找部门: who leads and supports the measures matching a topic; a row opens its source."""
    import gradio as gr

    duty_rows = gr.State([])  # rows of the last search
    with gr.Tab("找部门", id="departments", elem_id="tab-departments"):
        gr.Markdown("输入要办的事或工作事项,查看哪个部门**牵头**、哪些部门**配合**、期限是什么。点击表格中的一行查看原文。")
        with gr.Row(equal_height=False, elem_classes="rag-search-row"):
            query = gr.Textbox(label="事项", placeholder="例如:营业执照、行政复议、政务公开", scale=4,
                               elem_id="rag-dept-query")
            region = gr.Dropdown(label="地区", choices=svc.region_choices(), value="", scale=2,
                                 elem_id="rag-dept-region")
            search_btn = gr.Button("查找", variant="primary", scale=1, min_width=90, elem_id="rag-dept-search")
        gr.Examples([[q] for q in DEPT_EXAMPLES], inputs=[query], label="常见事项")
        table = gr.Dataframe(headers=view.DUTY_COLUMNS, value=[], interactive=False, wrap=True,
                             max_height=460, elem_id="rag-dept-table", label="分工", elem_classes="rag-table",
                             datatype="str", column_widths=["26%", "16%", "16%", "12%", "15%", "15%"])
        source = gr.HTML('<div class="rag-empty">点击表格中的一行,在这里查看原文。</div>', elem_id="rag-dept-source")

    def on_search(q, r):
        try:
            rows = svc.departments(q, r)
        except Exception as e:
            return [], [], view.error_html(user_message(e))
        hint = (f'<div class="rag-empty">找到 {len(rows)} 条分工。点击表格中的一行查看原文。</div>' if rows
                else '<div class="rag-empty">没有找到相关的分工,请换个说法试试(例如“营业执照”“行政复议”)。</div>')
        return view.duty_table(rows), rows, hint

    io = dict(inputs=[query, region], outputs=[table, duty_rows, source])
    search_btn.click(on_search, **io, **PRIVATE)
    query.submit(on_search, **io, **PRIVATE)

    def on_select(rows, evt: gr.SelectData):
        i = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        if not rows or i is None or not 0 <= i < len(rows):
            return gr.skip()
        return svc.duty_source(rows[i])

    table.select(on_select, duty_rows, source, **PRIVATE)
    return SimpleNamespace(region=region)


def documents_tab(svc: Service) -> SimpleNamespace:
    """文件: the indexed documents and their text by section."""
    import gradio as gr

    with gr.Tab("文件", id="documents", elem_id="tab-documents"):
        gr.Markdown("已收录的文件。点击一行(或在下拉框中选择)阅读全文,文中按章节排列。")
        table = gr.Dataframe(headers=view.DOC_COLUMNS, value=view.document_rows(svc.documents()),
                             interactive=False, wrap=True, max_height=480, elem_id="rag-docs-table",
                             elem_classes="rag-table", datatype="str", label="文件",
                             column_widths=["24%", "13%", "7%", "9%", "9%", "18%", "10%", "10%"])
        pick = gr.Dropdown(label="阅读文件", choices=svc.doc_choices()[1:], value=None, elem_id="rag-doc-pick")
        doc_view = gr.HTML(svc.document_view(None), elem_id="rag-doc-view")

    def on_select(evt: gr.SelectData):
        i = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        docs = svc.documents()
        return docs[i].doc_id if i is not None and 0 <= i < len(docs) else gr.skip()

    table.select(on_select, None, pick, **PRIVATE)
    pick.change(svc.document_view, pick, doc_view, **PRIVATE)
    return SimpleNamespace(table=table, pick=pick)


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
