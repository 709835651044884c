"""The web app's stylesheet (kept in Python so that it ships with the package)."""

CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
.rag-header { padding: 6px 2px 2px; }
.rag-header h1 { font-size: 1.6rem; font-weight: 700; margin: 0 0 4px; color: #8b1a1a; letter-spacing: .02em; }
.rag-header p { margin: 0; color: var(--body-text-color-subdued); font-size: .95rem; }

/* status line */
.rag-status { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; font-size: .82rem;
  color: var(--body-text-color-subdued); padding: 8px 12px; border: 1px solid var(--border-color-primary);
  border-radius: 8px; background: var(--background-fill-secondary); }
.rag-status-item { white-space: nowrap; }
.rag-status-k { margin-right: 6px; opacity: .75; }
.rag-status-v { color: var(--body-text-color); font-weight: 500; }
.rag-status-warn { flex-basis: 100%; color: #8a5300; background: #fff6e0; border-radius: 6px; padding: 4px 8px; }
.rag-status-error { display: block; color: #8b1a1a; background: #fdecec; border-color: #f3b7b7; font-size: .95rem; }
.rag-status-error strong { display: block; margin-bottom: 2px; }
.rag-status-sub { font-size: .8rem; color: var(--body-text-color-subdued); }

/* chat */
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
.rag-error { color: #8b1a1a; background: #fdecec; border-radius: 6px; padding: 6px 10px; }
sup.rag-ref { color: #b22222; font-weight: 600; font-size: .72em; margin: 0 1px; }
.rag-sources { margin-top: 10px; border-top: 1px dashed var(--border-color-primary); padding-top: 6px; }
.rag-sources-head { font-size: .8rem; color: var(--body-text-color-subdued); margin-bottom: 4px; }
details.rag-src { border: 1px solid var(--border-color-primary); border-radius: 6px; margin: 4px 0;
  background: var(--background-fill-primary); }
details.rag-src > summary { cursor: pointer; padding: 5px 10px; font-size: .86rem; list-style-position: inside; }
details.rag-src[open] > summary { border-bottom: 1px solid var(--border-color-primary); }
.rag-src-n { color: #b22222; font-weight: 700; margin-right: 6px; }
.rag-src-title { font-weight: 600; }
.rag-src-sec { color: var(--body-text-color-subdued); margin-left: 6px; }
.rag-src-sec::before { content: "› "; }
.rag-src-page { color: var(--body-text-color-subdued); margin-left: 6px; }
.rag-passage { padding: 8px 12px; font-size: .9rem; line-height: 1.8; max-height: 320px; overflow-y: auto; }
.rag-passage mark, .rag-doc mark { background: #ffe58a; color: inherit; padding: 0 1px; border-radius: 2px; }
.rag-soft { background: #fff7d6; }
.rag-side .prose h4 { margin: 6px 0 2px; }
.rag-side-note { font-size: .85rem; }
.rag-ask-row { align-items: stretch; }

/* tables: gradio's dataframe defaults to a monospace font */
.rag-table [role=gridcell], .rag-table [role=gridcell] *, .rag-table td, .rag-table td *,
.rag-table th, .rag-table th * { font-family: var(--font) !important; font-variant-numeric: normal; }
.rag-table [role=gridcell] { cursor: pointer; }

/* 找部门 */
.rag-empty { color: var(--body-text-color-subdued); padding: 10px 4px; font-size: .9rem; }
.rag-duty { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 12px 14px;
  background: var(--background-fill-primary); }
.rag-duty-measure { font-weight: 700; font-size: 1.02rem; }
.rag-duty-where { font-size: .82rem; color: var(--body-text-color-subdued); margin: 2px 0 8px; }
dl.rag-facts { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; margin: 6px 0 10px;
  font-size: .88rem; }
dl.rag-facts dt { color: var(--body-text-color-subdued); }
dl.rag-facts dd { margin: 0; }
.rag-duty .rag-passage { border-left: 3px solid #e0b4b4; background: var(--background-fill-secondary);
  border-radius: 4px; max-height: none; }

/* 文件 */
.rag-doc { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 14px 20px;
  background: var(--background-fill-primary); max-height: 720px; overflow-y: auto; }
.rag-doc-title { font-size: 1.3rem; margin: 0 0 6px; text-align: center; }
.rag-doc dl.rag-facts { grid-template-columns: repeat(4, max-content minmax(0, 1fr)); border-bottom: 1px solid var(--border-color-primary); padding-bottom: 10px; }
.rag-toc { font-size: .86rem; background: var(--background-fill-secondary); border-radius: 6px;
  padding: 6px 12px; margin-bottom: 12px; }
.rag-toc-head { font-weight: 600; margin-bottom: 2px; }
.rag-toc ul { list-style: none; margin: 0; padding: 0; columns: 2; column-gap: 24px; }
.rag-toc li { margin: 1px 0; break-inside: avoid; }
.rag-toc a { color: inherit; text-decoration: none; }
.rag-toc a:hover { text-decoration: underline; }
.rag-toc-l2 { padding-left: 1em; } .rag-toc-l3 { padding-left: 2em; } .rag-toc-l4 { padding-left: 3em; }
.rag-doc-sec h3 { font-size: 1.08rem; margin: 14px 0 4px; }
.rag-doc-sec h4 { font-size: 1rem; margin: 10px 0 4px; }
.rag-doc-sec h5, .rag-doc-sec h6 { font-size: .95rem; margin: 8px 0 2px; }
.rag-doc-text { line-height: 1.85; font-size: .95rem; text-indent: 0; }
"""
