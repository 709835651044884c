"""The page's own script (inline, no external resource): given to `Blocks.launch(js=…)`.

What it does, all in the browser (the server enforces every limit itself):
- the `[n]` markers of an answer open their source (click or Enter): the source's <details> opens,
  scrolls into view and flashes; "在文件中查看" links (`#doc=<id>&at=<start>-<end>`) open the 文件
  tab at that passage through the hidden bridge (`window.ragOpenDoc`, see `BRIDGE_JS`), and so
  does such an address typed or pasted into the address bar;
- suggested follow-ups are put in the question box and sent; "复制回答" copies the answer's text
  and its sources;
- the question box: a character counter against the limit (`data-max` of `.rag-ask-status`), and a
  notice when a question is sent while an answer is pending (Gradio then sends it when that
  answer is done: the event's `trigger_mode="always_last"`);
- Gradio's own English labels (aria-labels, titles, toast titles) are replaced by Chinese ones as
  they appear (a MutationObserver), since Gradio has no translation for several of them;
- outline links in the 文件 tab scroll within the page instead of changing the address.
"""

PAGE_JS = r"""
() => {
  if (window.__ragPage) return;
  window.__ragPage = true;
  const $ = (s, root) => (root || document).querySelector(s);

  // ---------------------------------------------------------------- Gradio's English labels
  const LABELS = [
    [/^More tabs$/i, "更多标签页"], [/^chatbot conversation$/i, "对话"],
    [/^Select example (\d+): ([\s\S]*)$/, "示例问题 $1:$2"],
    [/^bot's message:[\s\S]*$/i, "回答"], [/^user's message:[\s\S]*$/i, "你的问题"],
    [/^Copy message$/i, "复制"], [/^Copy( to clipboard)?$/i, "复制"], [/^Copied( message)?!?$/i, "已复制"],
    [/^Like$/i, "赞"], [/^Dislike$/i, "踩"], [/^Retry$/i, "重新回答"], [/^Undo$/i, "撤回"],
    [/^Clear$/i, "清空对话"], [/^Edit$/i, "编辑"], [/^Close$/i, "关闭"], [/^Share$/i, "分享"],
    [/^Scroll down$/i, "滚动到底部"], [/^Gradio footer navigation$/i, "页脚"], [/^Dropdown$/i, "下拉菜单"],
    [/^Textbox$/i, "文本框"], [/^Loading\.*…?$/i, "加载中"], [/^Error$/i, "出错了"], [/^Info$/i, "提示"],
    [/^Warning$/i, "注意"], [/^Success$/i, "完成"], [/^Submit$/i, "提交"], [/^Stop$/i, "停止"],
    [/^(Connection|Connection errored out)\.?$/i, "连接中断"], [/^processing$/i, "处理中"],
    [/^Cancel$/i, "取消"], [/^Remove$/i, "移除"], [/^Expand$/i, "展开"], [/^Collapse$/i, "收起"],
    [/^Clear (input|all)$/i, "清空"], [/^Options?$/i, "选项"], [/^Settings$/i, "设置"],
  ];
  const ATTRS = ["aria-label", "title", "placeholder", "alt", "aria-roledescription"];
  const zh = (v) => {
    for (const [re, to] of LABELS) if (re.test(v)) return v.replace(re, to);
    return null;
  };
  const fixEl = (el) => {
    for (const a of ATTRS) {
      const v = el.getAttribute(a);
      if (v && /[A-Za-z]{2}/.test(v)) { const t = zh(v.trim()); if (t !== null && t !== v) el.setAttribute(a, t); }
    }
  };
  const fixText = (node) => {
    const v = node.nodeValue;
    if (!v || !/[A-Za-z]{2}/.test(v) || node.parentElement?.closest(".rag-content, script, style, textarea")) return;
    const t = zh(v.trim());
    if (t !== null) node.nodeValue = v.replace(v.trim(), t);
  };
  const fixTree = (root) => {
    if (root.nodeType === 3) return fixText(root);
    if (root.nodeType !== 1) return;
    fixEl(root);
    root.querySelectorAll("*").forEach(fixEl);
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) fixText(n);
  };
  fixTree(document.body);
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "attributes") fixEl(r.target);
      else if (r.type === "characterData") fixText(r.target);
      else r.addedNodes.forEach(fixTree);
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true,
                             attributeFilter: ATTRS});

  // ---------------------------------------------------------------- sources, links, follow-ups
  const messageOf = (el) => el.closest(".message-content, .message, .message-row") || document;
  const openSource = (ref) => {
    const n = (ref.textContent.match(/\d+/) || [""])[0];
    const root = messageOf(ref);
    const src = [...root.querySelectorAll("details.rag-src")].find(
      (d) => (d.querySelector(".rag-src-n")?.textContent || "").replace(/\D/g, "") === n);
    if (!src) return;
    src.open = true;
    src.classList.remove("rag-flash");
    void src.offsetWidth;
    src.classList.add("rag-flash");
    src.scrollIntoView({block: "nearest", behavior: "smooth"});
    src.querySelector("summary")?.focus({preventScroll: true});
  };
  const openDoc = (hash) => {
    if (!window.ragOpenDoc) return false;
    window.ragOpenDoc(hash);
    try { history.replaceState(null, "", hash); } catch (e) { /* a sandboxed frame */ }
    return true;
  };
  const question = () => $("#rag-question textarea");
  const send = (text) => {
    const ta = question();
    if (!ta) return;
    ta.value = text;
    ta.dispatchEvent(new Event("input", {bubbles: true}));
    setTimeout(() => $("#rag-ask")?.click(), 50);
  };
  const copyText = async (text) => {
    try { await navigator.clipboard.writeText(text); return true; } catch (e) {
      const t = document.createElement("textarea");
      t.value = text; t.style.position = "fixed"; t.style.opacity = "0";
      document.body.appendChild(t); t.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (e2) { ok = false; }
      t.remove();
      return ok;
    }
  };
  document.addEventListener("click", (e) => {
    const t = e.target;
    if (!(t instanceof Element)) return;
    const ref = t.closest(".rag-ref");
    if (ref) { e.preventDefault(); openSource(ref); return; }
    const link = t.closest("a.rag-open-doc");
    if (link) { if (openDoc(link.getAttribute("href"))) e.preventDefault(); return; }
    const follow = t.closest(".rag-follow");
    if (follow) { e.preventDefault(); send(follow.textContent.trim()); return; }
    const copy = t.closest(".rag-copy");
    if (copy) {
      e.preventDefault();
      const root = messageOf(copy);
      const answer = root.querySelector(".rag-answer")?.innerText || "";
      const sources = [...root.querySelectorAll("details.rag-src > summary")].map((s) => s.innerText.trim());
      copyText(answer + (sources.length ? "\n\n来源:\n" + sources.join("\n") : "")).then((ok) => {
        copy.textContent = ok ? "已复制" : "复制失败,请手动选择文字";
        setTimeout(() => { copy.textContent = "复制回答"; }, 2000);
      });
      return;
    }
    const toc = t.closest(".rag-toc a, a.rag-totop");
    if (toc) {
      const target = document.getElementById((toc.getAttribute("href") || "").slice(1));
      if (target) { e.preventDefault(); target.scrollIntoView({block: "start", behavior: "smooth"}); }
    }
  });
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if ((e.key === "Enter" || e.key === " ") && t instanceof Element && t.matches(".rag-ref")) {
      e.preventDefault(); openSource(t);
    }
  });
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#doc=")) openDoc(location.hash);
  });

  // ---------------------------------------------------------------- the question box
  let queued = false;
  const busy = () => /回答中/.test($("#rag-ask")?.textContent || "");
  const onSend = () => {
    const ta = question();
    if (ta && ta.value.trim() && busy()) queued = true;
  };
  document.addEventListener("click", (e) => {
    if (!(e.target instanceof Element)) return;
    if (e.target.closest("#rag-ask")) onSend();
    if (e.target.closest("#rag-stop")) queued = false;  // a queued question stays in the box, to send again
  }, true);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.target instanceof Element &&
        e.target.closest("#rag-question")) onSend();
  }, true);
  const tick = () => {
    const box = $(".rag-ask-status");
    const ta = question();
    if (!box || !ta) return;
    const max = parseInt(box.dataset.max || "0", 10);
    const n = [...ta.value].length;
    if (queued && !ta.value.trim()) queued = false;
    const count = box.querySelector(".rag-count");
    const note = box.querySelector(".rag-queued");
    const over = max && n > max;
    const text = over ? `${n} / ${max} 字 · 超出 ${n - max} 字,发送时只保留前 ${max} 字` : (n ? `${n} / ${max} 字` : "");
    if (count.textContent !== text) count.textContent = text;
    count.classList.toggle("rag-over", !!over);
    const q = queued ? "已排队:当前回答完成后自动发送这个问题" : "";
    if (note.textContent !== q) note.textContent = q;
  };
  setInterval(tick, 250);
}
"""

# js_on_load of the hidden bridge (a gr.HTML): "#doc=…" links call window.ragOpenDoc, which sends
# the link to the server as a select event; an address opened with such a link does the same.
BRIDGE_JS = r"""
window.ragOpenDoc = (hash) => trigger('select', {index: 0, value: String(hash || '')});
if (location.hash.startsWith('#doc=')) setTimeout(() => window.ragOpenDoc(location.hash), 400);
"""

# js_on_load of a table of rows (找部门, 文件): a click or Enter on a row selects it
ROWS_JS = r"""
const pick = (row) => {
  element.querySelectorAll('.rag-row-on').forEach((r) => r.classList.remove('rag-row-on'));
  row.classList.add('rag-row-on');
  trigger('select', {index: parseInt(row.dataset.i, 10), value: row.dataset.key || row.dataset.i});
};
element.addEventListener('click', (e) => {
  const row = e.target.closest('tr.rag-row');
  if (row && element.contains(row)) pick(row);
});
element.addEventListener('keydown', (e) => {
  const row = e.target.closest && e.target.closest('tr.rag-row');
  if (row && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); pick(row); }
});
"""

def reveal_js(selector: str, narrow_only: bool = False, narrow_fallback: str | None = None) -> str:
    """js_on_load of a view that may hold a target (the document at a cited passage; a 找部门
    source on a phone, below its list): once a new value is shown, `selector` is scrolled into
    view (after the tab that holds it is shown); on a narrow screen without such a target,
    `narrow_fallback` is scrolled to the top instead (a document opened from the list above)."""
    return (r"""
const revealTarget = () => {
  let tries = 0;
  const narrow = window.innerWidth <= 900;
  const go = () => {
    let t = element.querySelector(SELECTOR), block = 'center';
    if (t && NARROW_ONLY && !narrow) return;
    if (!t && FALLBACK && narrow) { t = element.querySelector(FALLBACK); block = 'start'; }
    if (!t) return;
    if (NARROW_ONLY) block = 'start';
    if (!t.offsetParent && tries++ < 30) { setTimeout(go, 100); return; }
    t.scrollIntoView({block: block, behavior: 'smooth'});
  };
  setTimeout(go, 80);
};
watch('value', revealTarget);
revealTarget();  // a tab is drawn when first shown: its view may already hold the target
""".replace("SELECTOR", repr(selector)).replace("NARROW_ONLY", "true" if narrow_only else "false")
            .replace("FALLBACK", repr(narrow_fallback) if narrow_fallback else "null"))
