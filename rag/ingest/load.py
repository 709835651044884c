"""Document loading: a file's bytes → raw text.

This stage only gets the words out of the container (and out of the page chrome of web
pages and PDFs); it does not clean them. Traditional→simplified conversion, pinyin gloss
removal and the like belong to the cleaning stage that runs next.

    load_file(path) -> Loaded        # .txt .md .html .htm .docx .pdf
    decode_bytes(data) -> (text, encoding)
    iter_corpus(folder) -> sorted supported files, hidden files and folders skipped

Every failure (missing, unreadable, corrupt, encrypted, unsupported, not text) raises
`LoadError` with a one-line message naming the file. Heavy backends (python-docx, pypdf,
BeautifulSoup, charset-normalizer) are imported inside the functions that need them.

Text of every format is normalised the same way: line endings become "\\n" (so is any
other line separator: \\f, \\v, U+0085, U+2028, U+2029), and the remaining control
characters except "\\t" are removed: "\\n" is the only line boundary left.
"""

from __future__ import annotations

import bisect
import functools
import html as _html
import io
import math
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from rag.errors import LoadError

SUPPORTED = (".txt", ".md", ".html", ".htm", ".docx", ".pdf")

BINARY_CONTROL_SHARE = 0.10  # more control characters than this (share of all) → not text
LENIENT_MAX_ERRORS = 0.02  # share of undecodable characters tolerated when nothing decodes strictly
NO_TEXT_LAYER = "no text layer (scanned PDF?)"


@dataclass
class Loaded:
    text: str  # the document text, paragraphs separated by "\n"
    format: str  # "txt" | "md" | "html" | "docx" | "pdf"
    encoding: str  # detected encoding for text formats, "" for binary formats
    pages: list[tuple[int, int, int]] = field(default_factory=list)  # PDF: (start, end, page_no)
    skipped: str | None = None  # why the file yields no usable text (text is "" then)


# --------------------------------------------------------------------------- text basics

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
# Cc except \t \n \r \v \f and U+0085 (those are line breaks or kept)
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_LINE_BREAKS = str.maketrans({"\f": "\n", "\v": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n"})


def _normalize(text: str) -> str:
    """Line endings → "\\n", control characters except "\\t" removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_BREAKS)
    return _CONTROL_RE.sub("", text)


def _one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


# --------------------------------------------------------------------------- encodings

_BOMS = (  # longest first: the UTF-32 LE BOM starts with the UTF-16 LE one
    (b"\xef\xbb\xbf", "utf-8", "utf-8-sig"),
    (b"\xff\xfe\x00\x00", "utf-32-le", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32-be", "utf-32"),
    (b"\xff\xfe", "utf-16-le", "utf-16"),
    (b"\xfe\xff", "utf-16-be", "utf-16"),
)
_GB = "gb18030"
_BIG5_CODECS = ("big5", "cp950", "big5hkscs")  # tried in this order, the first that decodes
_FAMILY = {
    "gb2312": _GB, "gbk": _GB, "gb18030": _GB, "cp936": _GB, "euc_cn": _GB, "hz": _GB,
    "big5": "big5", "cp950": "big5", "big5hkscs": "big5",
    "utf_8": "utf-8", "utf_8_sig": "utf-8",
}


@functools.lru_cache(maxsize=1)
def _common_hanzi() -> frozenset[str]:
    """GB2312 level-1 (3755 most used simplified) ∪ Big5 level-1 (5401 most used
    traditional) characters, read off the codecs themselves."""
    chars: set[str] = set()
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            try:
                chars.add(bytes((lead, trail)).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    trails = [*range(0x40, 0x7F), *range(0xA1, 0xFF)]
    for lead in range(0xA4, 0xC7):
        for trail in trails:
            if lead == 0xC6 and trail > 0x7E:  # level 2 starts at C940; C6A1.. are symbols
                continue
            try:
                chars.add(bytes((lead, trail)).decode("big5"))
            except UnicodeDecodeError:
                pass
    return frozenset(chars)


_PUNCT = set("、。,.;:?!“”‘’()《》〈〉〔〕【】「」『』—…·-~%  ﹝﹞")


def _char_weight(ch: str, common: frozenset[str]) -> float:
    if ch in common or ch in _PUNCT:
        return 1.0
    o = ord(ch)
    if 0xFF01 <= o <= 0xFF5E or 0x3000 <= o <= 0x3003 or 0x3008 <= o <= 0x3011 or 0x2010 <= o <= 0x2027:
        return 1.0  # full-width forms and CJK / general punctuation
    if 0x4E00 <= o <= 0x9FFF:
        return 0.3  # a real but less common character
    if 0xC0 <= o <= 0x24F:
        return 0.7  # accented Latin (pinyin glosses)
    return 0.0  # kana, Greek, box drawing, bopomofo, private use, rare blocks …


def _plausibility(text: str) -> float:
    """Share (0..1) of the non-ASCII characters that are ones Chinese text is made of.
    A wrong CJK decoding yields rare characters, kana, symbols and private-use codes."""
    common = _common_hanzi()
    total = score = 0.0
    for ch in text[:200_000]:
        if ord(ch) < 0x80:
            continue
        total += 1
        score += _char_weight(ch, common)
    return score / total if total else 1.0


def _family(name: str | None) -> str | None:
    if not name:
        return None
    import codecs

    name = name.strip().lower()
    try:
        codec = codecs.lookup(name).name.replace("-", "_")
    except LookupError:  # web labels Python does not know: x-gbk, gb_2312-80, x-x-big5 …
        return _GB if "gb" in name else "big5" if "big5" in name else None
    return _FAMILY.get(codec, codec)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _finish(text: str, encoding: str) -> tuple[str, str]:
    if text and len(_CONTROL_RE.findall(text)) > BINARY_CONTROL_SHARE * len(text):
        raise LoadError("not a text file (too many control characters)")
    return _normalize(text), encoding


def _charset_normalizer_family(data: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # only a tie-breaker
        return None
    best = from_bytes(data[:65536]).best()
    return _family(best.encoding) if best is not None else None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """(text, encoding) of a text file's bytes, text normalised (see module doc).

    BOM (UTF-8, UTF-16, UTF-32) → strict UTF-8 → strict GB18030 and Big5, the one whose
    characters look most like Chinese text (charset-normalizer breaks near-ties) → the
    least-damaged lenient decoding. `declared` (e.g. an HTML <meta charset>) is honoured
    when the bytes decode with it and it is about as plausible as the best guess.
    Raises LoadError for bytes that are not text."""
    if not data:
        return "", "utf-8"
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            text = data[len(bom):].decode(codec, errors="replace")
            if text.count("\ufffd") > LENIENT_MAX_ERRORS * max(len(text), 1):
                raise LoadError(f"not a text file (invalid {name} after its byte-order mark)")
            return _finish(text, name)

    text = _strict(data, "utf-8")
    if text is not None:  # valid UTF-8 is a very strong signal, whatever a page declares
        return _finish(text, "utf-8")

    candidates: list[tuple[float, str, str]] = []  # (plausibility, encoding, text)
    text = _strict(data, _GB)
    if text is not None:
        candidates.append((_plausibility(text), _GB, text))
    for codec in _BIG5_CODECS:
        text = _strict(data, codec)
        if text is not None:
            candidates.append((_plausibility(text), codec, text))
            break

    fam = _family(declared)
    if fam and fam not in (_GB, "big5", "utf-8") and not candidates:
        text = _strict(data, fam)  # e.g. a page that declares windows-1252 and is
        if text is not None:
            return _finish(text, fam)

    if candidates:
        best = max(candidates, key=lambda c: c[0])
        if fam in (_GB, "big5"):
            for c in candidates:
                if _family(c[1]) == fam and c[0] >= best[0] - 0.15:
                    return _finish(c[2], c[1])
        if len(candidates) > 1:
            other = min(candidates, key=lambda c: c[0])
            if best[0] - other[0] < 0.05:  # too close to call: short or odd text
                few = sum(1 for ch in best[2] if ord(ch) >= 0x80) < 20
                hint = _GB if few else _charset_normalizer_family(data)
                best = next((c for c in candidates if _family(c[1]) == hint), candidates[0])
        return _finish(best[2], best[1])

    # nothing decodes strictly: a stray bad byte or a truncated last character
    lenient = []
    for codec in ("utf-8", _GB, "big5"):
        text = data.decode(codec, errors="replace")
        lenient.append((text.count("\ufffd") / max(len(text), 1), -_plausibility(text), codec, text))
    errors, _, codec, text = min(lenient)
    if errors > LENIENT_MAX_ERRORS:
        raise LoadError("not a text file (undecodable as UTF-8, GB18030 or Big5)")
    return _finish(text, codec)


# --------------------------------------------------------------------------- markdown

_FENCE_RE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX_RE = re.compile(r"^\s{0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_RULE_RE = re.compile(r"^\s{0,3}(?:(?:=[ \t]*){3,}|(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)+\|?\s*$|^\s*\|\s*:?-+:?\s*\|\s*$")
_REFDEF_RE = re.compile(r"^\s{0,3}\[(?!\^)[^\]]+\]:\s*\S+.*$")
_FOOTDEF_RE = re.compile(r"^\s{0,3}\[\^[^\]]+\]:\s*")
_QUOTE_RE = re.compile(r"^\s{0,3}(?:>\s?)+")
_BULLET_RE = re.compile(r"^\s*[-*+][ \t]+(?:\[[ xX]\][ \t]+)?")
_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")
_ESCAPED_RE = re.compile("\x00([\ue000-\ue0ff])")
_INLINE = (
    (re.compile(r"<(https?://[^>\s]+|[^@>\s]+@[^@>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images → alt text
    (re.compile(r"\[([^\]]*)\]\((?:[^()\s]|\([^()]*\))*(?:\s+[\"'(][^)]*)?\)"), r"\1"),  # links
    (re.compile(r"\[([^\]^][^\]]*)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"\[\^[^\]]+\]"), ""),  # footnote references
    (re.compile(r"<br\s*/?>", re.I), " "),
    (re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>"), ""),  # inline html tags
    (re.compile(r"(`+)(.+?)\1"), r"\2"),  # code spans
    (re.compile(r"(\*\*\*|___)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<!\*)\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?!\*)"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"&(#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});"), lambda m: _html.unescape(m.group(0))),
)


def _md_inline(s: str) -> str:
    s = _ESCAPE_RE.sub(lambda m: "\x00" + chr(0xE000 + ord(m.group(1))), s)
    for rx, repl in _INLINE:
        s = rx.sub(repl, s)
    return _ESCAPED_RE.sub(lambda m: chr(ord(m.group(1)) - 0xE000), s)


def _md_row(line: str) -> str:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells = [_md_inline(c.strip()) for c in re.split(r"(?<!\\)\|", s)]
    return "\t".join(cells) if any(cells) else ""


def strip_markdown(text: str) -> str:
    """Markdown → plain text: heading marks, emphasis, link syntax, table pipes, code
    fences, block quotes, bullets and reference definitions go; heading lines stay lines.
    Numbered list markers (1.) are kept: they are the document's outline."""
    lines = text.split("\n")
    if lines and lines[0].strip() == "---":  # YAML front matter
        for j in range(1, min(len(lines), 200)):
            if lines[j].strip() in ("---", "..."):
                lines = lines[j + 1:]
                break
    table_rows: set[int] = set()
    for i, line in enumerate(lines):
        if i and "|" in lines[i - 1] and _TABLE_SEP_RE.match(line) and "-" in line:
            table_rows.update((i - 1, i))
            j = i + 1
            while j < len(lines) and "|" in lines[j] and lines[j].strip():
                table_rows.add(j)
                j += 1
    out: list[str] = []
    fence: str | None = None
    for i, line in enumerate(lines):
        m = _FENCE_RE.match(line)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip().strip(fence[0]):
                fence = None
            else:
                out.append(line)  # code block content is kept verbatim
            continue
        if m:
            fence = m.group(1)
            continue
        if i in table_rows or (line.strip().startswith("|") and line.strip().endswith("|") and len(line.strip()) > 1):
            if _TABLE_SEP_RE.match(line) and "-" in line:
                continue
            out.append(_md_row(line))
            continue
        if _RULE_RE.match(line) or _REFDEF_RE.match(line):
            continue  # setext underline / thematic break / [ref]: url
        line = _FOOTDEF_RE.sub("", _QUOTE_RE.sub("", line))
        h = _ATX_RE.match(line)
        if h:
            out.append(_md_inline((h.group(1) or "").strip(" \t")))
            continue
        line = _BULLET_RE.sub("", line)
        out.append(_md_inline(line).strip(" \t"))
    return "\n".join(out)


# --------------------------------------------------------------------------- html

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


def _render(root) -> str:
    """Visible text of `root`: block elements on their own lines, table cells joined by
    tabs, whitespace collapsed (a source line break between two CJK characters vanishes)."""
    from bs4 import NavigableString, Tag

    lines: list[str] = []
    cur: list[str] = []

    def newline():
        if cur:
            lines.append("".join(cur))
            cur.clear()

    def walk(el, pre: bool):
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
                newline()
                continue
            if name in ("td", "th"):
                walk(child, pre)
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
        line = re.sub(r" *\t[ \t]*", "\t", line).strip(" \t\xa0\u3000")
        line = re.sub(r" {2,}", " ", line)
        if line.strip():
            out.append(line)
    return "\n".join(out)


def html_to_text(markup: str) -> str:
    """Main content of an HTML page as text (see `_main_element`, `_render`)."""
    from bs4 import BeautifulSoup, Comment

    soup = BeautifulSoup(markup, "html.parser")
    for c in soup.find_all(string=lambda s: isinstance(s, Comment)):
        c.extract()
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
    return _render(_main_element(soup))


# --------------------------------------------------------------------------- docx

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_SKIP_IN_PARAGRAPH = {_W + "txbxContent", _W + "del", _W + "moveFrom", _MC_FALLBACK, _W + "pPr", _W + "rPr"}
_CN_DIGITS = "零一二三四五六七八九"
_OUTLINE_BY_ILVL = ("{cn}、", "({cn})", "{n}.", "({n})", "{n})")


def _chinese_number(n: int) -> str:
    d = _CN_DIGITS
    if n <= 0 or n >= 10000:
        return str(n)
    if n < 10:
        return d[n]
    if n < 20:
        return "十" + (d[n % 10] if n % 10 else "")
    if n < 100:
        return d[n // 10] + "十" + (d[n % 10] if n % 10 else "")
    if n < 1000:
        head, rest = d[n // 100] + "百", n % 100
        if not rest:
            return head
        if rest < 10:
            return head + "零" + d[rest]
        return head + d[rest // 10] + "十" + (d[rest % 10] if rest % 10 else "")
    head, rest = d[n // 1000] + "千", n % 1000
    if not rest:
        return head
    if rest < 100:
        return head + "零" + ("一" + _chinese_number(rest) if 10 <= rest < 20 else _chinese_number(rest))
    return head + _chinese_number(rest)


def _roman(n: int) -> str:
    vals = ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I"))
    out = ""
    for v, s in vals:
        while n >= v:
            out += s
            n -= v
    return out


def _letters(n: int) -> str:  # Word: a..z, aa..zz, aaa..
    if n <= 0:
        return str(n)
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def _format_number(n: int, fmt: str) -> str:
    if fmt in ("chineseCounting", "chineseCountingThousand", "taiwaneseCounting", "japaneseCounting"):
        return _chinese_number(n)
    if fmt in ("ideographDigital", "taiwaneseDigital", "japaneseDigitalTenThousand"):
        return "".join(_CN_DIGITS[int(d)] if d != "0" else "〇" for d in str(n))
    if fmt == "chineseLegalSimplified":
        return _chinese_number(n).translate(str.maketrans("一二三四五六七八九十百", "壹贰叁肆伍陆柒捌玖拾佰"))
    if fmt == "ideographTraditional" and 1 <= n <= 10:
        return "甲乙丙丁戊己庚辛壬癸"[n - 1]
    if fmt == "ideographZodiac" and 1 <= n <= 12:
        return "子丑寅卯辰巳午未申酉戌亥"[n - 1]
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt == "decimalFullWidth" or fmt == "decimalFullWidth2":
        return str(n).translate(str.maketrans("0123456789", "0123456789"))
    if fmt in ("decimalEnclosedCircle", "decimalEnclosedCircleChinese") and 1 <= n <= 20:
        return chr(0x2460 + n - 1)
    if fmt == "decimalEnclosedParen" and 1 <= n <= 20:
        return chr(0x2474 + n - 1)
    if fmt == "decimalEnclosedFullstop" and 1 <= n <= 20:
        return chr(0x2488 + n - 1)
    if fmt == "upperRoman":
        return _roman(n)
    if fmt == "lowerRoman":
        return _roman(n).lower()
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerLetter":
        return _letters(n)
    return str(n)


class _Numbering:
    """Word's automatic numbering (numbering.xml + numPr of paragraphs and their styles)
    turned back into labels. With the level definitions: the label Word shows
    (lvlText with numFmt, e.g. "%1、" chineseCounting → 一、). Without: a Chinese outline
    label by level (0 → 一、, 1 → (一), 2 → 1., 3 → (1), 4 → 1))."""

    def __init__(self, document):
        self.levels: dict[str, dict[int, dict]] = {}  # abstractNumId → ilvl → definition
        self.nums: dict[str, tuple[str, dict[int, dict]]] = {}  # numId → (abstractNumId, overrides)
        self.styles: dict[str, tuple[str | None, str | None, int | None]] = {}  # id → (basedOn, numId, ilvl)
        self.counters: dict[object, list[int | None]] = {}
        try:
            numbering = document.part.numbering_part.element
        except Exception:  # no numbering part: the fallback labels apply
            numbering = None
        if numbering is not None:
            for a in numbering.iter(_W + "abstractNum"):
                self.levels[a.get(_W + "abstractNumId")] = {
                    int(lvl.get(_W + "ilvl", "0")): self._level(lvl) for lvl in a.iter(_W + "lvl")
                }
            for n in numbering.iter(_W + "num"):
                ref = n.find(_W + "abstractNumId")
                overrides: dict[int, dict] = {}
                for o in n.iter(_W + "lvlOverride"):
                    ilvl = int(o.get(_W + "ilvl", "0"))
                    d: dict = {}
                    lvl = o.find(_W + "lvl")
                    if lvl is not None:
                        d.update({k: v for k, v in self._level(lvl).items() if v is not None})
                    so = o.find(_W + "startOverride")
                    if so is not None:
                        d["start"] = int(so.get(_W + "val", "1"))
                    overrides[ilvl] = d
                if ref is not None:
                    self.nums[n.get(_W + "numId")] = (ref.get(_W + "val"), overrides)
        try:
            styles = document.styles.element
        except Exception:
            styles = None
        if styles is not None:
            for s in styles.iter(_W + "style"):
                based = s.find(_W + "basedOn")
                num_id, ilvl = self._numpr(s.find(_W + "pPr"))
                self.styles[s.get(_W + "styleId")] = (
                    based.get(_W + "val") if based is not None else None, num_id, ilvl
                )

    @staticmethod
    def _level(lvl) -> dict:
        def val(tag):
            e = lvl.find(_W + tag)
            return e.get(_W + "val") if e is not None else None

        start = val("start")
        return {
            "start": int(start) if start and start.lstrip("-").isdigit() else None,
            "fmt": val("numFmt"),
            "text": val("lvlText"),
            "style": val("pStyle"),
        }

    @staticmethod
    def _numpr(ppr) -> tuple[str | None, int | None]:
        if ppr is None:
            return None, None
        numpr = ppr.find(_W + "numPr")
        if numpr is None:
            return None, None
        nid, lvl = numpr.find(_W + "numId"), numpr.find(_W + "ilvl")
        ilvl = lvl.get(_W + "val") if lvl is not None else None
        return (nid.get(_W + "val") if nid is not None else None), (int(ilvl) if ilvl and ilvl.isdigit() else None)

    def _resolve(self, p) -> tuple[str | None, int | None, str | None]:
        ppr = p.find(_W + "pPr")
        num_id, ilvl = self._numpr(ppr)
        style_el = ppr.find(_W + "pStyle") if ppr is not None else None
        style = style_el.get(_W + "val") if style_el is not None else None
        seen = set()
        sid = style
        while (num_id is None or ilvl is None) and sid and sid not in seen:
            seen.add(sid)
            based, s_num, s_ilvl = self.styles.get(sid, (None, None, None))
            if num_id is None:
                num_id = s_num
            if ilvl is None and s_num is not None:
                ilvl = s_ilvl
            sid = based
        return num_id, ilvl, style

    def label(self, p) -> str:
        num_id, ilvl, style = self._resolve(p)
        if not num_id or num_id == "0":
            return ""
        defined = num_id in self.nums and self.nums[num_id][0] in self.levels
        if defined:
            abstract, overrides = self.nums[num_id]
            levels = self.levels[abstract]
            if ilvl is None:  # a level may be tied to a paragraph style
                ilvl = next((i for i, d in levels.items() if style and d.get("style") == style), 0)
            key: object = num_id if overrides else ("abstract", abstract)
        else:
            levels, overrides = {}, {}
            ilvl = ilvl or 0
            key = num_id
        ilvl = min(max(ilvl, 0), 8)

        def level(i: int) -> dict:
            d = dict(levels.get(i, {}))
            d.update(overrides.get(i, {}))
            return d

        counts = self.counters.setdefault(key, [None] * 9)
        here = level(ilvl)
        start = here.get("start")
        counts[ilvl] = (start if start is not None else 1) if counts[ilvl] is None else counts[ilvl] + 1
        for j in range(ilvl + 1, 9):
            counts[j] = None
        n = counts[ilvl]
        if not defined or not here:
            return _OUTLINE_BY_ILVL[min(ilvl, 4)].format(cn=_chinese_number(n), n=n)
        fmt = here.get("fmt") or "decimal"
        if fmt in ("bullet", "none"):
            return ""
        text = here.get("text")
        if text is None:
            text = f"%{ilvl + 1}."

        def sub(m):
            k = int(m.group(1)) - 1
            d = level(k)
            v = counts[k] if counts[k] is not None else (d.get("start") if d.get("start") is not None else 1)
            return _format_number(v, d.get("fmt") or "decimal")

        out = re.sub(r"%([1-9])", sub, text)
        return out + " " if out[-1:].isalnum() else out


def _paragraph_text(p) -> str:
    parts: list[str] = []

    def walk(el):
        for child in el:
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIP_IN_PARAGRAPH:
                continue
            if tag == _W + "t":
                parts.append(child.text or "")
            elif tag in (_W + "tab", _W + "ptab"):
                parts.append("\t")
            elif tag in (_W + "br", _W + "cr"):
                parts.append("\n")
            elif tag == _W + "noBreakHyphen":
                parts.append("-")
            else:
                walk(child)

    walk(p)
    return "".join(parts)


def docx_to_text(data: bytes) -> str:
    """Paragraphs and tables of the body in document order. Numbered paragraphs get their
    label back; a table row is one line, its cells joined by tabs."""
    import docx

    document = docx.Document(io.BytesIO(data))
    numbering = _Numbering(document)
    lines: list[str] = []

    def paragraph(p) -> str:
        text = _paragraph_text(p)
        if not text.strip():
            return ""
        return numbering.label(p) + text

    def cell_text(tc) -> str:
        parts: list[str] = []
        for el in tc.iter(_W + "p"):
            if any(a.tag == _W + "txbxContent" for a in el.iterancestors()):
                continue
            t = paragraph(el).strip()
            if t:
                parts.append(t.replace("\n", " ").replace("\t", " "))
        return " ".join(parts)

    def table(tbl):
        for tr in tbl.iter(_W + "tr"):
            if next((a for a in tr.iterancestors(_W + "tbl")), None) is not tbl:
                continue  # a nested table's rows are part of their cell
            cells = [cell_text(tc) for tc in tr.iter(_W + "tc") if next(tc.iterancestors(_W + "tr")) is tr]
            while cells and not cells[-1]:
                cells.pop()
            if any(cells):
                lines.append("\t".join(cells))

    def block(el):
        for child in el:
            tag = child.tag
            if tag == _W + "p":
                t = paragraph(child)
                if t.strip():
                    lines.append(t)
            elif tag == _W + "tbl":
                table(child)
            elif tag in (_W + "sdt", _W + "sdtContent", _W + "customXml", _W + "ins", _W + "moveTo"):
                block(child)

    block(document.element.body)
    return "\n".join(lines)


# --------------------------------------------------------------------------- pdf

_END_PUNCT = "。!?;:…!?;:" + ")】〕》」』〉)]"
_NO_LINE_START = "。,、;:?!…)】〕》」』〉”’"  # Chinese typography never starts a line with these
_HEADING_START_RE = re.compile(
    r"^\s*(?:[一二三四五六七八九十百]+、|[((][一二三四五六七八九十百]+[))]|\d{1,3}[.、.](?!\d)|[((]\d{1,3}[))]|\d{1,3}[))]"
    r"|第[一二三四五六七八九十百零〇\d]+[章节条部分篇]|[①-⑳]|附件)"
)
_PAGE_NO_RE = re.compile(
    r"^(?:[-—–_\s]*\d{1,4}[-—–_\s]*|[-—–\s]*第\s*\d+\s*页[-—–\s]*(?:[,,/]?\s*共\s*\d+\s*页)?|共\s*\d+\s*页"
    r"|\d+\s*/\s*\d+|[Pp]age\s*\d+(?:\s*of\s*\d+)?)$"
)
# spaces some PDFs put between CJK characters (and their punctuation): "法 治 政 府 ," → "法治政府,"
_CJK_SPACE_RE = re.compile(
    f"(?<=[{_CJK}\u3000-\u303f\uff00-\uffef]) +(?=[{_CJK}\u3000-\u303f\uff00-\uffef,.;:!?)])"
    f"|(?<=[{_CJK}\u3000-\u303f\uff00-\uffef,;:!?(]) +(?=[{_CJK}\u3000-\u303f\uff00-\uffef])"
)
_LATIN_RE = re.compile("[A-Za-z]")
# some PDF fonts map ideographs to Kangxi radicals (⼀ U+2F00 for 一): map them back
_KANGXI = {o: unicodedata.normalize("NFKC", chr(o)) for o in range(0x2F00, 0x2FD6)}


def _width(s: str) -> float:
    return sum(1.0 if ord(c) > 0x2E80 else 0.5 for c in s)


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", line))


def _strip_headers_footers(pages: list[list[str]]) -> list[list[str]]:
    """Drop first/last lines that repeat (digits aside) on most pages, and lone page numbers
    at the top or bottom of a page."""
    with_text = [p for p in pages if p]
    repeated: set[str] = set()
    if len(with_text) >= 2:
        counts: Counter[str] = Counter()
        for lines in with_text:
            counts.update({_edge_key(x) for x in lines[:2] + lines[-2:]})
        need = max(2, math.ceil(len(with_text) / 2))
        repeated = {k for k, c in counts.items() if c >= need}

    def edge(line: str) -> bool:
        return _edge_key(line) in repeated or bool(_PAGE_NO_RE.match(line.strip()))

    out = []
    for lines in pages:
        lines = list(lines)
        for _ in range(2):
            if lines and edge(lines[0]):
                lines.pop(0)
            if lines and edge(lines[-1]):
                lines.pop()
        out.append(lines)
    return out


def _should_join(a: str, b: str, full: float) -> bool:
    """Whether line b continues line a (a PDF layout break in the middle of a sentence):
    a does not end a sentence or with a closing bracket, and b does not start an outline
    heading. Except: a line never starts with closing punctuation (b = "。…" continues a);
    a heading line shorter than the full width ends there; and a short line without a
    comma is a title, a signature or a date line."""
    if not a or not b:
        return False
    if b[0] in _NO_LINE_START:
        return True
    if a[-1] in _END_PUNCT or _HEADING_START_RE.match(b):
        return False
    width = _width(a)
    if _HEADING_START_RE.match(a) and width < 0.75 * full:
        return False
    if width < 0.6 * full and not re.search("[,,、]", a):
        return False
    return True


def pdf_pages(data: bytes) -> list[str]:
    """Raw text of each page (pypdf), normalised. Raises LoadError if encrypted/corrupt."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        try:
            ok = reader.decrypt("")  # many PDFs only have an owner password
        except Exception as e:
            raise LoadError(f"encrypted PDF, cannot decrypt ({_one_line(e)})") from None
        if not ok:
            raise LoadError("encrypted PDF (a password is required)")
    texts, errors = [], []
    for page in reader.pages:
        try:
            texts.append(_normalize(page.extract_text() or ""))
        except Exception as e:  # one bad page should not lose the document
            errors.append(e)
            texts.append("")
    if errors and not any(t.strip() for t in texts):
        raise LoadError(f"cannot extract text from PDF ({_one_line(errors[0])})")
    return texts


def pdf_to_text(page_texts: list[str]) -> tuple[str, list[tuple[int, int, int]]]:
    """Join pages into one text: headers/footers/page numbers removed, layout line breaks
    inside sentences joined. Returns (text, spans); the spans are contiguous, each page's
    text (and the line break after it) lies in its span; pages without text get none."""
    pages = []
    for t in page_texts:
        lines = []
        for line in t.translate(_KANGXI).split("\n"):
            line = _CJK_SPACE_RE.sub("", line.strip(" \t\xa0\u3000"))
            if line:
                lines.append(line)
        pages.append(lines)
    pages = _strip_headers_footers(pages)
    widths = sorted(_width(x) for lines in pages for x in lines)  # "full" = a whole line's width
    full = (widths[int(0.9 * (len(widths) - 1))] if len(widths) >= 10 else widths[-1]) if widths else 0.0
    parts: list[str] = []
    starts: list[tuple[int, int]] = []  # (offset, page_no)
    length = 0
    prev = None
    for page_no, lines in enumerate(pages, start=1):
        for j, line in enumerate(lines):
            if prev is None:
                sep = ""
            elif _should_join(prev, line, full):
                sep = " " if _LATIN_RE.match(prev[-1]) and _LATIN_RE.match(line[0]) else ""  # English words
            else:
                sep = "\n"
            if j == 0:
                starts.append((length + len(sep), page_no))
            parts.append(sep + line)
            length += len(sep) + len(line)
            prev = line
    text = "".join(parts)
    spans = []
    for k, (start, page_no) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else len(text)
        spans.append((0 if k == 0 else start, end, page_no))
    return text, spans


def page_of(pages: list[tuple[int, int, int]], offset: int) -> int | None:
    """The page number holding `offset` of the text, given Loaded.pages."""
    k = bisect.bisect_right([s for s, _, _ in pages], offset) - 1
    if k >= 0 and pages[k][0] <= offset < pages[k][1]:
        return pages[k][2]
    return None


# --------------------------------------------------------------------------- files

def load_file(path: str | Path) -> Loaded:
    """Load one document. Raises LoadError (one-line message naming the file)."""
    p = Path(path)
    ext = p.suffix.lower()
    try:
        if not p.exists():
            raise LoadError("no such file")
        if p.is_dir():
            raise LoadError("is a directory, not a file")
        if ext not in SUPPORTED:
            raise LoadError(f"unsupported file type {ext or '(no extension)'} (supported: {' '.join(SUPPORTED)})")
        try:
            data = p.read_bytes()
        except PermissionError:
            raise LoadError("permission denied") from None
        except OSError as e:
            raise LoadError(f"cannot read ({e.strerror or _one_line(e)})") from None
        return _load_bytes(data, ext)
    except LoadError as e:
        raise LoadError(e.reason, p) from None
    except PermissionError:  # e.g. a folder on the way that cannot be searched
        raise LoadError("permission denied", p) from None
    except Exception as e:  # a parser's own failure: never a traceback from the loader
        kind = ext.lstrip(".") or "file"
        raise LoadError(f"corrupt or unreadable {kind} ({_one_line(e)})", p) from None


def _load_bytes(data: bytes, ext: str) -> Loaded:
    fmt = "html" if ext in (".html", ".htm") else ext.lstrip(".")
    if fmt in ("txt", "md", "html"):
        if not data.strip():
            return Loaded(text="", format=fmt, encoding="utf-8", pages=[], skipped="empty file")
        declared = _declared_charset(data) if fmt == "html" else None
        text, encoding = decode_bytes(data, declared)
        if fmt == "md":
            text = strip_markdown(text)
        elif fmt == "html":
            text = html_to_text(text)
        if not text.strip():
            return Loaded(text="", format=fmt, encoding=encoding, pages=[], skipped="no text content")
        return Loaded(text=text, format=fmt, encoding=encoding, pages=[])
    if fmt == "docx":
        import zipfile

        if not zipfile.is_zipfile(io.BytesIO(data)):
            raise LoadError("not a .docx file (not a zip package; an old .doc?)")
        text = _normalize(docx_to_text(data))
        if not text.strip():
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped="no text content")
        return Loaded(text=text, format=fmt, encoding="", pages=[])
    if fmt == "pdf":
        if b"%PDF" not in data[:1024]:
            raise LoadError("not a PDF file (no %PDF header)")
        page_texts = pdf_pages(data)
        if not page_texts:
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped="PDF has no pages")
        text, spans = pdf_to_text(page_texts)
        if not text.strip():
            return Loaded(text="", format=fmt, encoding="", pages=[], skipped=NO_TEXT_LAYER)
        return Loaded(text=text, format=fmt, encoding="", pages=spans)
    raise LoadError(f"unsupported file type {ext}")


def iter_corpus(folder: str | os.PathLike) -> Iterator[Path]:
    """Supported files under `folder` (recursively), sorted by relative path; hidden files
    and folders (name starting with ".") and Office lock files ("~$…") are skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise LoadError("not a folder", root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith((".", "~$")) or Path(name).suffix.lower() not in SUPPORTED:
                continue
            full = Path(dirpath) / name
            if full.is_file():
                found.append(full)
    found.sort(key=lambda f: f.relative_to(root).as_posix())
    yield from found
