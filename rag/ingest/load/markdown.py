"""Markdown → plain text: headings, emphasis, links, tables, code fences and quotes reduced to
their words; the outline numbering (一、/(一)/1.) written in the text is kept as is.
"""

from __future__ import annotations

import html as _html
import re

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
