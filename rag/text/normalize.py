"""Character-level normalisation shared by documents, questions and evaluation matching.

`normalize(text)` fixes known mojibake, removes Latin pinyin glosses after Chinese characters
(`區(qū)`), converts traditional to simplified (OpenCC t2s plus variants it leaves, `陜` → `陕`),
unifies widths, collapses doubled punctuation and runs of spaces; line breaks are kept.
Legitimate parentheses survive: (一), (区), (2021-2025年), (区发改局牵头,各有关部门配合).
`normalize_for_match` is the aggressive form (no whitespace) used to compare strings.
"""

from __future__ import annotations

import re
import threading

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


def normalize_for_match(text: str) -> str:
    """Aggressive form for comparing strings (evaluation, quotes): no whitespace at all."""
    return re.sub(r"\s+", "", normalize(text))
