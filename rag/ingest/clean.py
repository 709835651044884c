"""Raw text → clean simplified Chinese.

Two levels:
- `normalize(text)`: character-level fixes shared by documents and questions (known mojibake,
  pinyin glosses, traditional → simplified, width, doubled punctuation, whitespace).
- `clean_document(text)`: `normalize` plus line-level work for whole documents: paragraphs
  glued into one line are split, web chrome is dropped, a body that repeats is kept once.

Legitimate parentheses survive: (一), (区), (2021-2025年), (区发改局牵头,各有关部门配合).
Only parentheses holding lowercase Latin pinyin right after a Chinese character are removed.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

# Known mojibake signatures seen in scraped pages, mapped to what they stood for.
# "。《實(shí)" went through a wrong code page and came back as "?!秾?shí)" (corpus file 000).
MOJIBAKE = {
    "?!秾?shí)": "。《實",
}
# A letter l / O typed for a digit inside a number ("达到l00%").
DIGIT_LOOKALIKE_RE = re.compile(r"(?<![A-Za-z])[lI](?=\d{1,3}(?:\.\d+)?%)|(?<=\d)[Oo](?=\d)")

# Variant characters OpenCC's t2s leaves alone.
VARIANTS = str.maketrans({"陜": "陕", "峯": "峰", "綫": "线", "衞": "卫", "僞": "伪", "爲": "为"})

_PINYIN_LETTERS = "a-zü\u00e0-\u00fc\u0101-\u01dc\u01f9\u1e3f\u0300-\u036f"
# A gloss: ( pinyin ) right after a CJK character, e.g. 區(qū) or 會(huì ). Brackets of either width.
# Repeated glosses go in one pass, so that normalising twice changes nothing.
GLOSS_RE = re.compile(rf"(?<=[\u3400-\u9fff])(?:[(\uff08]\s*[{_PINYIN_LETTERS}]{{1,7}}\s*[)\uff09])+")

# Full-width ASCII variants (！＂…～) → ASCII; ideographic and other odd spaces → plain space.
_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_WIDTH.update({0x3000: 0x20, 0x00A0: 0x20, 0x2002: 0x20, 0x2003: 0x20, 0x2009: 0x20, 0x200B: None,
               0xFEFF: None})
WIDTH = _WIDTH

_PUNCT = ",、。;:!?"
# A comma doubled with another mark, or a mark repeated: keep the stronger (last) mark.
DOUBLED_RE = re.compile(r",+(?=[,、。;:!?])|([、。;:])\1+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES_RE = re.compile(r"[ \t]+")
_CJK = "\u3400-\u9fff"
_CJK_PUNCT = "。,、;:!?“”《》()〔〕…—"

_local = threading.local()


def _opencc():
    cc = getattr(_local, "cc", None)
    if cc is None:
        import opencc

        cc = _local.cc = opencc.OpenCC("t2s")
    return cc


def to_simplified(text: str) -> str:
    return _opencc().convert(text).translate(VARIANTS)


def remove_glosses(text: str) -> str:
    return GLOSS_RE.sub("", text)


def collapse_punctuation(text: str) -> str:
    return DOUBLED_RE.sub(lambda m: m.group(1) or "", text)


def normalize(text: str) -> str:
    """Character-level normalisation shared by documents and questions. Keeps line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_RE.sub("", text)
    for bad, good in MOJIBAKE.items():
        text = text.replace(bad, good)
    text = text.translate(WIDTH)
    text = remove_glosses(text)
    text = DIGIT_LOOKALIKE_RE.sub(lambda m: "1" if m.group(0) in "lI" else "0", text)
    text = to_simplified(text)
    text = collapse_punctuation(text)
    text = _SPACES_RE.sub(" ", text)
    return text


# ---------------------------------------------------------------- document-level cleaning

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


def normalize_for_match(text: str) -> str:
    """Aggressive form for comparing strings (evaluation, quotes): no whitespace at all."""
    return re.sub(r"\s+", "", normalize(text))
