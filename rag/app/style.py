"""The web app's stylesheet (kept in Python so that it ships with the package).

Phones first: nothing may be wider than the screen (360–414 px), so long words wrap anywhere,
tables become stacked cards below 760 px, and the chat fills the height of the screen (the page
itself barely scrolls). Gradio's footer is hidden.

Gradio copies each rule for its container, but inside `@media` it keeps only the copy prefixed
with `.gradio-container .contain`: rules in a media query can only reach elements inside the
app's content (the outer padding is therefore sized with clamp(), outside any media query).
"""

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
.gradio-container .main.fillable { padding: clamp(6px, 1.6vw, 16px) clamp(8px, 2.4vw, 32px) !important; }
#rag-status:not(:has(.rag-status)), #rag-ask-note:not(:has(.rag-hint)) { display: none !important; }
.rag-chat-col { gap: 6px !important; }
#rag-ask-status .html-container, #rag-ask-note .html-container, #rag-status .html-container,
.rag-scope-bar .html-container { padding: 0 !important; }
#rag-question textarea { font-size: 16px; }  /* 16 px: phones do not zoom into the box */
footer, .gradio-container > footer { display: none !important; }
.rag-header { padding: 4px 2px 0; }
.rag-header h1 { font-size: 1.5rem; font-weight: 700; margin: 0 0 2px; color: #8b1a1a; letter-spacing: .02em; }
.rag-header p { margin: 0; color: var(--body-text-color-subdued); font-size: .92rem; }
.rag-content, .rag-passage, .rag-doc, .rag-scope, .rag-duty, table.rag-cards, .rag-status { overflow-wrap: anywhere; }
.rag-bridge { display: none !important; }

/* status line (maintainers) and the citizens' notice */
.rag-status { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; font-size: .82rem;
  color: var(--body-text-color-subdued); padding: 8px 12px; border: 1px solid var(--border-color-primary);
  border-radius: 8px; background: var(--background-fill-secondary); }
.rag-status-item { white-space: normal; }
.rag-status-k { margin-right: 6px; opacity: .75; }
.rag-status-v { color: var(--body-text-color); font-weight: 500; }
.rag-status-warn { flex-basis: 100%; color: #8a5300; background: #fff6e0; border-radius: 6px; padding: 4px 8px; }
.rag-status-error { display: block; color: #8b1a1a; background: #fdecec; border-color: #f3b7b7; font-size: .95rem; }
.rag-status-error strong { display: block; margin-bottom: 2px; }
.rag-status-sub { font-size: .8rem; color: var(--body-text-color-subdued); }
.rag-admin-problem { margin-top: 8px; display: block; }

/* chat */
#rag-chat { height: calc(100vh - 250px) !important; height: calc(100dvh - 250px) !important; min-height: 300px;
  max-height: 900px; }
#rag-chat .message-row:has(.rag-pending, .rag-streaming) .message-buttons { visibility: hidden; }
#rag-chat .rag-placeholder { text-align: center; color: var(--body-text-color-subdued); line-height: 1.8; }
#rag-chat .rag-placeholder strong { font-size: 1.15rem; color: var(--body-text-color); }
#rag-chat button.example { border: 1px solid var(--border-color-primary); border-radius: 10px;
  background: var(--background-fill-secondary); padding: 10px 14px; text-align: left; }
#rag-chat button.example:hover { border-color: #d98c8c; background: #fff5f5; }
#rag-chat .message-row.user-row { background: #f6f7f9 !important; }
#rag-chat .message-row.user-row .message.user { background: transparent !important; border: none !important;
  font-weight: 500; }
.rag-search-row { align-items: flex-end !important; }
.rag-search-row > button { min-height: 44px; margin-bottom: 8px; }
.rag-answer { line-height: 1.75; }
.rag-refused { color: var(--body-text-color-subdued); }
.rag-pending { color: var(--body-text-color-subdued); font-style: italic; }
.rag-streaming::after { content: "▍"; opacity: .6; }
.rag-notice { font-size: .85rem; color: #8a5300; margin-bottom: 4px; }
.rag-notice-scope { background: #fff6e0; border-radius: 6px; padding: 4px 8px; }
.rag-error { color: #8b1a1a; background: #fdecec; border-radius: 6px; padding: 6px 10px; }
sup.rag-ref { color: #b22222; font-weight: 600; font-size: .72em; margin: 0 1px; cursor: pointer;
  border-radius: 3px; padding: 0 1px; }
sup.rag-ref:hover, sup.rag-ref:focus-visible { background: #fde3e3; outline: none; text-decoration: underline; }
.rag-scope { margin-top: 8px; font-size: .82rem; color: var(--body-text-color-subdued); }
.rag-scope-line { margin: 2px 0; }
.rag-scope-k { display: inline-block; font-size: .75rem; border: 1px solid var(--border-color-primary);
  border-radius: 4px; padding: 0 5px; margin-right: 6px; color: var(--body-text-color-subdued); }
.rag-scope-title { color: var(--body-text-color); font-weight: 600; }
.rag-scope-filter { color: #8a5300; }
.rag-badge { display: inline-block; font-size: .75rem; border-radius: 4px; padding: 0 6px; margin-left: 4px;
  font-weight: 600; white-space: nowrap; }
.rag-badge-draft { background: #fff0c2; color: #7a4b00; border: 1px solid #f0c96a; }
.rag-badge-old { background: #eef0f3; color: #4b5563; border: 1px solid #d5d9e0; }
.rag-sources { margin-top: 8px; border-top: 1px dashed var(--border-color-primary); padding-top: 6px; }
.rag-sources-head { font-size: .8rem; color: var(--body-text-color-subdued); margin-bottom: 4px; }
details.rag-src { border: 1px solid var(--border-color-primary); border-radius: 6px; margin: 4px 0;
  background: var(--background-fill-primary); }
details.rag-src > summary { cursor: pointer; padding: 5px 10px; font-size: .86rem; list-style-position: inside; }
details.rag-src[open] > summary { border-bottom: 1px solid var(--border-color-primary); }
details.rag-src.rag-flash { animation: rag-flash 1.6s ease-out; }
@keyframes rag-flash { 0% { box-shadow: 0 0 0 3px #f3a3a3; } 100% { box-shadow: 0 0 0 0 transparent; } }
.rag-src-n { color: #b22222; font-weight: 700; margin-right: 6px; }
.rag-src-title { font-weight: 600; }
.rag-src-sec { color: var(--body-text-color-subdued); margin-left: 6px; }
.rag-src-sec::before { content: "› "; }
.rag-src-page { color: var(--body-text-color-subdued); margin-left: 6px; }
.rag-passage { padding: 8px 12px; font-size: .9rem; line-height: 1.8; max-height: 320px; overflow-y: auto; }
.rag-passage mark, .rag-doc mark { background: #ffe58a; color: inherit; padding: 0 1px; border-radius: 2px; }
a.rag-open-doc { display: inline-block; margin: 0 12px 8px; font-size: .85rem; color: #b22222; text-decoration: none; }
a.rag-open-doc:hover { text-decoration: underline; }
.rag-soft { background: #fff7d6; }
.rag-follow-list { margin-top: 10px; display: flex; flex-wrap: wrap; gap: 6px; align-items: center; }
.rag-follow-k { font-size: .8rem; color: var(--body-text-color-subdued); }
button.rag-follow { border: 1px solid #e6b3b3; background: #fff7f7; color: #8b1a1a; border-radius: 14px;
  padding: 3px 10px; font-size: .84rem; cursor: pointer; text-align: left; max-width: 100%; }
button.rag-follow:hover { background: #ffecec; }
.rag-tools { margin-top: 6px; }
button.rag-copy { background: none; border: none; color: var(--body-text-color-subdued); font-size: .8rem;
  cursor: pointer; padding: 2px 0; }
button.rag-copy:hover { color: var(--body-text-color); text-decoration: underline; }
.rag-side .prose h4 { margin: 6px 0 2px; }
.rag-side-note { font-size: .85rem; }
.rag-ask-row { align-items: stretch; flex-wrap: nowrap !important; gap: 8px !important; }
.rag-ask-row > * { min-width: 0 !important; }
#rag-ask, #rag-stop { min-width: 76px !important; flex: 0 0 auto !important; }
.rag-ask-status { font-size: .78rem; color: var(--body-text-color-subdued); min-height: 1.2em; line-height: 1.2em; display: flex;
  flex-wrap: wrap; gap: 4px 12px; justify-content: flex-end; padding: 0 4px; }
.rag-ask-status .rag-over { color: #b22222; font-weight: 600; }
.rag-ask-status .rag-queued { color: #8a5300; font-weight: 600; }
.rag-ask-note:empty { display: none; }
.rag-hint { font-size: .85rem; color: #8a5300; padding: 2px 4px; }
.rag-scope-bar { align-items: center !important; background: #fff6e0; border-radius: 8px; padding: 2px 8px !important;
  gap: 8px !important; flex-wrap: nowrap !important; }
.rag-scope-bar > * { min-width: 0 !important; }
.rag-scope-bar .rag-scope-now { font-size: .85rem; color: #7a4b00; }
#rag-scope-clear { flex: 0 0 auto !important; min-width: 0 !important; }

/* tables of rows: 找部门 and 文件 */
.rag-table-wrap { max-height: 480px; overflow: auto; border: 1px solid var(--border-color-primary); border-radius: 8px; }
table.rag-cards { width: 100%; border-collapse: collapse; font-size: .9rem; margin: 0; }
table.rag-cards caption { caption-side: top; text-align: left; padding: 6px 10px; font-size: .82rem;
  color: var(--body-text-color-subdued); }
.rag-table-wrap table.rag-cards, .rag-table-wrap table.rag-cards th, .rag-table-wrap table.rag-cards td,
.rag-table-wrap table.rag-cards tr { border: 0; }
.rag-table-wrap table.rag-cards td { border-top: 1px solid var(--border-color-primary); }
.rag-docs-table .rag-col-2, .rag-docs-table .rag-col-3, .rag-docs-table .rag-col-6, .rag-duty-table .rag-col-3 { white-space: nowrap; }
table.rag-cards th { position: sticky; top: 0; background: var(--background-fill-secondary); text-align: left;
  padding: 6px 8px; font-weight: 600; white-space: nowrap; z-index: 1; }
table.rag-cards td { padding: 6px 8px; border-top: 1px solid var(--border-color-primary); vertical-align: top; }
tr.rag-row { cursor: pointer; }
tr.rag-row:hover { background: #fff7f7; }
tr.rag-row.rag-row-on { background: #ffecec; box-shadow: inset 3px 0 0 #b22222; }
tr.rag-row:focus { outline: none; }
tr.rag-row:focus-visible { outline: 2px solid #b22222; outline-offset: -2px; }
.rag-duty-table .rag-col-0 { width: 30%; }
.rag-docs-table .rag-col-0 { width: 26%; font-weight: 600; }

/* 找部门 */
.rag-empty { color: var(--body-text-color-subdued); padding: 10px 4px; font-size: .9rem; }
.rag-duty { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 12px 14px;
  background: var(--background-fill-primary); }
.rag-duty-measure { font-weight: 700; font-size: 1.02rem; }
.rag-duty-where { font-size: .82rem; color: var(--body-text-color-subdued); margin: 2px 0 4px; }
dl.rag-facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 6px 0 10px;
  font-size: .88rem; }
dl.rag-facts dt { color: var(--body-text-color-subdued); }
dl.rag-facts dd { margin: 0; min-width: 0; }
.rag-duty .rag-passage { border-left: 3px solid #e0b4b4; background: var(--background-fill-secondary);
  border-radius: 4px; max-height: none; }
.rag-duty a.rag-open-doc { margin: 8px 0 0; }
.rag-chips { display: flex; flex-wrap: wrap; gap: 6px !important; }
.rag-chips > button { flex: 0 0 auto !important; min-width: 0 !important; width: auto !important; }

/* 文件 */
.rag-doc { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 14px 20px;
  background: var(--background-fill-primary); max-height: 720px; overflow-y: auto; }
.rag-doc-title { font-size: 1.3rem; margin: 0 0 6px; text-align: center; }
.rag-doc-draft { background: #fff6e0; color: #7a4b00; border: 1px solid #f0c96a; border-radius: 6px;
  padding: 6px 10px; margin: 6px 0; font-size: .9rem; }
.rag-doc dl.rag-facts { grid-template-columns: repeat(4, max-content minmax(0, 1fr)); border-bottom: 1px solid var(--border-color-primary); padding-bottom: 10px; }
.rag-toc { font-size: .86rem; background: var(--background-fill-secondary); border-radius: 6px;
  padding: 6px 12px; margin-bottom: 12px; scroll-margin-top: 8px; }
.rag-toc-head { font-weight: 600; margin-bottom: 2px; }
.rag-toc ul { list-style: none; margin: 0; padding: 0; columns: 2; column-gap: 24px; }
.rag-toc li { margin: 1px 0; break-inside: avoid; }
.rag-toc a { color: inherit; text-decoration: none; }
.rag-toc a:hover { text-decoration: underline; }
.rag-toc-l2 { padding-left: 1em; } .rag-toc-l3 { padding-left: 2em; } .rag-toc-l4 { padding-left: 3em; }
.rag-doc-sec { scroll-margin-top: 8px; }
.rag-doc-sec h3 { font-size: 1.08rem; margin: 14px 0 4px; }
.rag-doc-sec h4 { font-size: 1rem; margin: 10px 0 4px; }
.rag-doc-sec h5, .rag-doc-sec h6 { font-size: .95rem; margin: 8px 0 2px; }
.rag-doc-target { background: #fffbea; box-shadow: -6px 0 0 #fffbea, 6px 0 0 #fffbea; border-left: 3px solid #e0a800; padding-left: 8px; }
.rag-doc mark.rag-target { background: #ffd54a; box-shadow: 0 0 0 2px #ffd54a; }
.rag-doc-bar { position: sticky; top: -14px; z-index: 2; display: flex; justify-content: space-between; gap: 8px;
  align-items: center; margin: -14px -20px 6px; padding: 6px 20px; background: var(--background-fill-primary);
  border-bottom: 1px solid var(--border-color-primary); font-size: .82rem; color: var(--body-text-color-subdued); }
.rag-doc-bar-title { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1 1 0; width: 0; }
.rag-doc-bar a.rag-totop { float: none; flex: 0 0 auto; font-size: .82rem; color: #b22222; }
a.rag-totop { float: right; font-size: .75rem; font-weight: 400; color: var(--body-text-color-subdued);
  text-decoration: none; margin-left: 8px; }
a.rag-totop:hover { text-decoration: underline; }
.rag-doc-text { line-height: 1.85; font-size: .95rem; text-indent: 0; }

/* phones and narrow windows */
@media (max-width: 760px) {
  .rag-search-row { flex-wrap: wrap !important; }
  .rag-search-row > * { flex: 1 1 100% !important; min-width: 0 !important; }
  .rag-search-row > button { flex: 1 1 auto !important; }
  .rag-header h1 { font-size: 1.15rem; }
  .rag-header p { display: none; }
  #rag-chat { height: calc(100vh - 222px) !important; height: calc(100dvh - 222px) !important; min-height: 260px; }
  .rag-table-wrap { max-height: none; overflow: visible; border: none; }
  table.rag-cards, table.rag-cards tbody, table.rag-cards tr, table.rag-cards td { display: block; width: auto !important; }
  table.rag-cards thead { display: none; }
  table.rag-cards caption { display: block; padding: 4px 2px; }
  table.rag-cards tr { border: 1px solid var(--border-color-primary); border-radius: 8px; margin: 0 0 8px; padding: 6px 10px; }
  table.rag-cards td { border: none; padding: 2px 0; display: grid; grid-template-columns: 4.6em minmax(0, 1fr); gap: 8px; }
  table.rag-cards td::before { content: attr(data-label); color: var(--body-text-color-subdued); font-size: .8rem;
    white-space: nowrap; flex: 0 0 auto; }
  table.rag-cards td.rag-col-0 { display: block; font-weight: 600; margin-bottom: 2px; }
  table.rag-cards td.rag-col-0::before { display: none; }
  .rag-table-wrap table.rag-cards tr { border: 1px solid var(--border-color-primary); }
  .rag-table-wrap table.rag-cards td { border-top: 0; }
  table.rag-docs-table td:not(.rag-col-0) { display: inline-flex; gap: 4px; margin-right: 12px; }
  table.rag-docs-table td.rag-col-5 { display: flex; }
  .rag-doc { max-height: none; overflow: visible; padding: 10px 12px; }
  .rag-doc-bar { top: 0; margin: -10px -12px 6px; padding: 6px 12px; }
  .rag-doc dl.rag-facts { grid-template-columns: max-content minmax(0, 1fr); }
  .rag-toc ul { columns: 1; }
  .rag-passage { padding: 6px 8px; }
}
"""
