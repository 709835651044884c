"""Whole documents: normalised text → clean document text.

`clean_document(raw)` applies `rag.text.normalize.normalize` and then works line by line:
paragraphs glued into one line are split, lines broken mid-sentence are joined, web chrome
is dropped and a body that repeats is kept once. `Cleaned.normalized` keeps the text before
chrome removal, for the metadata extractors (signatures, dates and bylines live there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.text.normalize import normalize

_CJK = "\u3400-\u9fff"
_CJK_PUNCT = "。,、;:!?“”《》()〔〕…—"


CHROME_PATTERNS = [
    r"^[|\s]*$",  # separator lines made of |
    r"^当前位置",  # breadcrumbs
    r"扫一扫|扫描二维码|关注我们|微信扫|手机打开当前页",
    r"ICP备|ICP证|公网安备|备案号|网站标识码|版权所有|主办单位[::]|承办单位[::]|技术支持[::]",
    r"^本文(链接|关键词|地址)[::]",
    r"^(上一篇|下一篇|相关链接|相关文章|打印本页|关闭窗口|【打印】|【关闭】|分享到)",
    r"^(首页\s*[>›»])",
]
CHROME_RE = re.compile("|".join(f"(?:{p})" for p in CHROME_PATTERNS))
# A long line holding several paragraphs separated by spaces (file 001): split there.
LONG_LINE = 300
_PARA_BREAK_RE = re.compile(rf"(?<=[{_CJK}{_CJK_PUNCT}]) (?=[{_CJK}“《(\d])")
REPEAT_MIN_CHARS = 200  # a paragraph this long that appears again is a duplicated body


@dataclass
class Cleaned:
    text: str  # the clean document text (what chunks and offsets refer to)
    normalized: str  # normalised text before chrome/duplicate removal (metadata reads it)
    dropped_lines: int
    dropped_duplicates: int


def _split_glued_paragraphs(line: str) -> list[str]:
    if len(line) < LONG_LINE:
        return [line]
    return [p for p in _PARA_BREAK_RE.split(line) if p.strip()]


# Outline labels that start a new paragraph (一、 (一) 1. (1) 1) 一是): never glued to the line above.
_LABEL_START_RE = re.compile(r"^(?:[一二三四五六七八九十]+[、是]|[(]\S{1,3}[)]|\d{1,3}[.、)])")


def _join_broken_lines(paras: list[str]) -> list[str]:
    """A long line cut mid-sentence ("…执法人员\n775 人,…") is joined with the next one."""
    out: list[str] = []
    for p in paras:
        prev = out[-1] if out else ""
        if (len(prev) > 40 and re.match(rf"[{_CJK}\w]", prev[-1]) and not _LABEL_START_RE.match(p)):
            out[-1] = prev + p
        else:
            out.append(p)
    return out


def is_chrome(line: str) -> bool:
    return bool(CHROME_RE.search(line))


def clean_document(raw: str) -> Cleaned:
    normalized = normalize(raw)
    lines: list[str] = []
    dropped = 0
    for line in normalized.split("\n"):
        line = line.strip().strip("|").strip()
        if not line or is_chrome(line):
            dropped += line != ""
            continue
        lines.append(line)
    # A body that appears twice (scraped pages repeat the article): keep its last copy, which
    # in such pages follows the title and byline. Compared before glued paragraphs are split,
    # so a repeated body's short paragraphs and headings go with it.
    last = {ln: i for i, ln in enumerate(lines) if len(ln) >= REPEAT_MIN_CHARS}
    kept = [ln for i, ln in enumerate(lines) if len(ln) < REPEAT_MIN_CHARS or last[ln] == i]
    paragraphs = _join_broken_lines([p.strip() for ln in kept for p in _split_glued_paragraphs(ln)])
    return Cleaned(
        text="\n".join(paragraphs),
        normalized=normalized,
        dropped_lines=dropped,
        dropped_duplicates=len(lines) - len(kept),
    )
