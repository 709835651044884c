"""HTML → text: the main content element found by text density (not by a site's class
names alone), page chrome (navigation, headers, footers, share bars, sidebars) dropped, block
structure kept as lines, and the charset a page declares honoured.
"""

from __future__ import annotations

import re

from rag.ingest.load.encoding import _CJK, _CJK_RE

_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)|<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_:.\-]+)""",
    re.I,
)
_DROP_TAGS = (
    "script", "style", "noscript", "nav", "footer", "aside", "form", "iframe", "svg",
    "template", "button", "select", "textarea", "input", "head", "object", "embed", "canvas", "map",
)
_CHROME_SUBSTR = ("breadcrumb", "footer", "sidebar", "comment", "copyright", "share", "menu", "fenxiang", "crumbs")
_CHROME_TOKENS = {  # a word of an id/class ("top-nav", "navBar" → top, nav / nav, Bar)
    "nav", "navbar", "navigation", "topnav", "subnav", "sidenav", "crumb", "dqwz", "banner", "logo", "topbar",
    "search", "login",
}
_CHROME_NAMES = {"bottom", "foot", "side", "top", "head"}  # only as a whole id/class ("padding-top" is not)
_HEADER_NAMES = {"header", "head", "top", "site-header", "page-header"}  # unless they hold the title (h1/h2)
_BLOCK_TAGS = {
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4",
    "h5", "h6", "header", "hgroup", "hr", "html", "legend", "li", "main", "menu", "nav", "ol", "p", "pre",
    "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
}
# a source line break (marked \x00 by _render) between CJK text: no space in the output
_CJK_NEWLINE_RE = re.compile(
    rf"(?<=[{_CJK}\u3000-\u303f\uff00-\uffef,.;:!?)\]])[ \x00]*\x00[ \x00]*(?=[{_CJK}\u3000-\u303f\uff00-\uffef])"
)
_TOKEN_SPLIT_RE = re.compile(r"[\s_\-]+|(?<=[a-z])(?=[A-Z])")


def _declared_charset(data: bytes) -> str | None:
    m = _META_CHARSET_RE.search(data[:16384])
    if not m:
        return None
    return (m.group(1) or m.group(2)).decode("ascii", "replace")


def _is_chrome(tag) -> bool:
    attrs = getattr(tag, "attrs", None) or {}
    names = []
    for key in ("id", "class", "role"):
        v = attrs.get(key)
        if v:
            names.extend(v if isinstance(v, list) else [v])
    if not names:
        return False
    if attrs.get("role") in ("navigation", "banner", "contentinfo", "complementary", "search"):
        return True
    lowered = {str(n).lower() for n in names}
    if lowered & _HEADER_NAMES and tag.find(["h1", "h2"]) is None and tag.find_parent(["article", "main"]) is None:
        return True
    if lowered & _CHROME_NAMES:
        return True
    for name in names:
        low = str(name).lower()
        if any(s in low for s in _CHROME_SUBSTR):
            return True
        if any(t.lower() in _CHROME_TOKENS for t in _TOKEN_SPLIT_RE.split(str(name)) if t):
            return True
    return False


def _cjk_count(s: str) -> int:
    return len(_CJK_RE.findall(s))


def _counts(root) -> tuple[dict[int, int], dict[int, int]]:
    """Per element (by id): CJK characters outside links, CJK characters inside links."""
    from bs4 import NavigableString

    text_cjk: dict[int, int] = {}
    link_cjk: dict[int, int] = {}
    for s in root.descendants:
        if not isinstance(s, NavigableString) or type(s).__name__ != "NavigableString":
            continue
        n = _cjk_count(s)
        if not n:
            continue
        in_link = any(p.name == "a" for p in s.parents)
        target = link_cjk if in_link else text_cjk
        for p in s.parents:
            target[id(p)] = target.get(id(p), 0) + n
    return text_cjk, link_cjk


_PROSE_PUNCT_RE = re.compile("[,。;、,;!?!?]")
_TITLE_TOKENS = {"title", "tit", "bt", "biaoti", "headline", "heading"}


def _content_weights(body) -> dict[int, int]:
    """Per element (by id): CJK characters of the prose blocks inside it. A prose block is
    the text a block element holds directly (inline children included, links excluded)
    when it has ≥ 10 CJK characters and sentence punctuation; menus, labels and
    one-line chrome are not prose. Falls back to all non-link CJK text when a page has
    no prose at all."""
    from bs4 import NavigableString

    own: dict[int, list] = {}  # id(block) → [block, text]
    for s in body.descendants:
        if not isinstance(s, NavigableString) or type(s).__name__ != "NavigableString":
            continue
        if not _CJK_RE.search(s):
            continue
        block = None
        for parent in s.parents:
            if parent.name == "a":
                break
            if parent.name in _BLOCK_TAGS or parent is body:
                block = parent
                break
        if block is not None:
            own.setdefault(id(block), [block, ""])[1] += str(s)
    weights: dict[int, int] = {}
    prose = [(b, t) for b, t in own.values() if _cjk_count(t) >= 10 and _PROSE_PUNCT_RE.search(t)]
    for block, text in prose or list(own.values()):
        n = _cjk_count(text)
        node = block
        while node is not None:
            weights[id(node)] = weights.get(id(node), 0) + n
            if node is body:
                break
            node = node.parent
    return weights


def _has_title(tag, exclude) -> bool:
    for el in [tag, *tag.find_all(True)]:
        if el is exclude or any(p is exclude for p in el.parents):
            continue
        if el.name in ("h1", "h2", "h3"):
            return True
        names = []
        for key in ("id", "class"):
            v = el.attrs.get(key)
            if v:
                names.extend(v if isinstance(v, list) else [v])
        if any(t.lower() in _TITLE_TOKENS for name in names for t in _TOKEN_SPLIT_RE.split(str(name)) if t):
            return True
    return False


def _main_element(soup):
    """The element holding the page's main text. The biggest <article>/<main> when it
    holds most of the prose; else the deepest element holding ≥ 85% of the page's prose
    (see `_content_weights`). Then widened to its parent while that only adds a title
    and a date line (a heading or an element named *title*, and little text)."""
    body = soup.body or soup
    weights = _content_weights(body)
    total = weights.get(id(body), 0)
    if not total:
        return body
    node = None
    articles = body.find_all(["article", "main"])
    if articles:
        best = max(articles, key=lambda a: weights.get(id(a), 0))
        if weights.get(id(best), 0) >= 0.2 * total:
            node = best
    if node is None:
        node = body
        while True:
            child = next(
                (c for c in node.find_all(True, recursive=False) if weights.get(id(c), 0) >= 0.85 * total), None
            )
            if child is None:
                break
            node = child
    text_cjk, _ = _counts(body)
    while node is not body and node.parent is not None and node.parent is not soup:
        parent = node.parent
        own, up = text_cjk.get(id(node), 0), text_cjk.get(id(parent), 0)
        if up - own > 0.15 * own + 60 or not _has_title(parent, node):
            break
        node = parent
    return node


def _expand_rowspans(root) -> None:
    """Repeat a cell spanning several rows (`rowspan`, a task table's shared 牵头单位 or 完成时限)
    in each row it covers, at its column, so that every rendered row has all its cells."""
    import copy

    def span(cell, name: str) -> int:
        try:
            return max(1, min(int(cell.get(name, 1)), 200))
        except (TypeError, ValueError):
            return 1

    for table in root.find_all("table"):
        carry: dict[int, list] = {}  # column → [rows left, cell]
        for tr in table.find_all("tr"):
            if tr.find_parent("table") is not table:
                continue  # a nested table's rows are its own
            cells = tr.find_all(["td", "th"], recursive=False)
            col, out = 0, []
            queue = list(cells)
            while queue or any(c >= col for c in carry):
                if col in carry:
                    dup = copy.copy(carry[col][1])
                    dup.attrs.pop("rowspan", None)
                    out.append(("new", dup))
                    carry[col][0] -= 1
                    if carry[col][0] == 0:
                        del carry[col]
                    col += 1
                    continue
                if not queue:
                    col += 1
                    continue
                cell = queue.pop(0)
                out.append(("old", cell))
                if span(cell, "rowspan") > 1:
                    carry[col] = [span(cell, "rowspan") - 1, cell]
                col += span(cell, "colspan")
            if any(kind == "new" for kind, _ in out):
                for c in cells:
                    c.extract()
                for _, c in out:
                    tr.append(c)
        for cell in table.find_all(["td", "th"]):  # expanded once: a second rendering adds nothing
            cell.attrs.pop("rowspan", None)


def _render(root) -> str:
    """Visible text of `root`: block elements on their own lines, table cells joined by
    tabs, whitespace collapsed (a source line break between two CJK characters vanishes)."""
    from bs4 import NavigableString, Tag

    _expand_rowspans(root)

    lines: list[str] = []
    cur: list[str] = []

    def newline():
        if cur:
            lines.append("".join(cur))
            cur.clear()

    cell_depth = 0  # inside a table cell

    def walk(el, pre: bool):
        nonlocal cell_depth
        for child in el.children:
            if isinstance(child, NavigableString):
                if type(child).__name__ != "NavigableString":
                    continue  # comments, doctype, CDATA …
                s = str(child)
                if not pre:
                    s = re.sub(r"[ \t\f\u200b]*\n[\s\u200b]*", "\x00", s)  # remember source line breaks
                    s = re.sub(r"[ \t\f\u200b]+", " ", s)
                    cur.append(s)
                else:
                    parts = s.split("\n")
                    for k, part in enumerate(parts):
                        if k:
                            newline()
                        cur.append(part)
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name == "br":
                if cell_depth:
                    cur.append(";")  # a line break inside a table cell ("牵头:X<br>配合:Y") keeps the row one line
                else:
                    newline()
                continue
            if name in ("td", "th"):
                row = child.parent.find_all(["td", "th"], recursive=False) if child.parent is not None else []
                data = len(row) >= 2  # a row of a data table; a one-cell layout table holds the article
                cell_depth += data
                walk(child, pre)
                cell_depth -= data
                cur.append("\t")
                continue
            block = name in _BLOCK_TAGS
            if block:
                newline()
            walk(child, pre or name == "pre")
            if block:
                newline()

    walk(root, root.name == "pre")
    newline()
    out = []
    for line in lines:
        line = _CJK_NEWLINE_RE.sub("", line).replace("\x00", " ")
        line = re.sub(r" *\t *", "\t", line).strip(" \t\xa0\u3000")  # an empty cell keeps its column
        line = re.sub(r" {2,}", " ", line)
        if line.strip():
            out.append(line)
    return "\n".join(out)


def _page_hints(soup) -> dict[str, str]:
    """What the page says about its document outside the article text: <title>, the first
    <h1>, <meta name="ArticleTitle"/"PubDate"> and the whole visible page as text (header
    tables such as 索引号/发文字号/成文日期 often sit outside the element holding the article)."""
    hints: dict[str, str] = {}
    if soup.title is not None and soup.title.get_text(strip=True):
        hints["html_title"] = re.sub(r"\s+", " ", soup.title.get_text(" ", strip=True))
    for name, key in (("ArticleTitle", "article_title"), ("PubDate", "pub_date")):
        tag = soup.find("meta", attrs={"name": name})
        if tag is not None and str(tag.get("content", "")).strip():
            hints[key] = str(tag["content"]).strip()
    h1 = soup.find("h1")
    if h1 is not None:
        text = "".join(h1.stripped_strings)  # <br> inside a two-line heading joins without a space
        if text:
            hints["h1"] = text
    body = soup.body or soup
    hints["page_text"] = _render(body)
    return hints


def html_to_text_and_hints(markup: str) -> tuple[str, dict[str, str]]:
    """Main content of an HTML page as text (see `_main_element`, `_render`), and the page's
    hints about the document (see `_page_hints`)."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(markup, "html.parser")
    for c in soup.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()
    for tag in soup.find_all(("script", "style", "noscript", "template", "svg")):
        tag.decompose()
    hints = _page_hints(soup)
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for tag in soup.find_all("header"):
        if tag.find_parent(["article", "main"]) is None:
            tag.decompose()
    body = soup.body or soup
    text_cjk, _ = _counts(body)
    total = text_cjk.get(id(body), 0)
    for tag in list(body.find_all(True)):
        if getattr(tag, "decomposed", False) or tag.parent is None:
            continue
        if _is_chrome(tag) and not (total and text_cjk.get(id(tag), 0) > 0.5 * total):
            tag.decompose()
    # link lists (menus, "related articles") that slipped through: ≥3 links, mostly link text
    text_cjk, link_cjk = _counts(body)
    for tag in list(body.find_all(["ul", "ol", "dl", "div", "table", "section", "p", "td"])):
        if getattr(tag, "decomposed", False) or tag.parent is None:
            continue
        t, l_ = text_cjk.get(id(tag), 0), link_cjk.get(id(tag), 0)
        if l_ and l_ > 2 * t and len(tag.find_all("a")) >= 3 and not (total and t > 0.5 * total):
            tag.decompose()
    return _render(_main_element(soup)), hints


def html_to_text(markup: str) -> str:
    """Main content of an HTML page as text (see `_main_element`, `_render`)."""
    return html_to_text_and_hints(markup)[0]
