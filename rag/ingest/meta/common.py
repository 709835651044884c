"""Small shared pieces of the metadata extractors: dates, document numbers, the head of a text."""

from __future__ import annotations

import re

from rag.records import UNKNOWN

HEAD_CHARS = 700  # where titles, numbers and signatures of a document sit

DATE_CN_RE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
DATE_ISO_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
DATE_ANY_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)")
DOC_NUMBER_RE = re.compile(r"(?:^|\n)\s*([\u4e00-\u9fff]{1,12}〔\d{4}〕\s*\d{1,4}\s*号)")
DATE_LINE_RE = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*$")


_CN_DIGIT = {"〇": 0, "○": 0, "零": 0, "Ｏ": 0, "O": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
             "八": 8, "九": 9}
_CN_D = "〇○零ＯO一二三四五六七八九"
CN_NUMERAL_DATE_RE = re.compile(rf"([{_CN_D}]{{4}})\s*年\s*([一二三四五六七八九十]{{1,2}})\s*月\s*([一二三四五六七八九十]{{1,3}})\s*日")


def _cn_number(s: str) -> int:
    """一 … 九, 十, 十一 … 十九, 二十 … 三十一."""
    if "十" not in s:
        return _CN_DIGIT.get(s, 0)
    tens, _, ones = s.partition("十")
    return (_CN_DIGIT.get(tens, 0) if tens else 1) * 10 + (_CN_DIGIT.get(ones, 0) if ones else 0)


def arabic_dates(text: str) -> str:
    """Dates written in Chinese numerals, as a signature often is (二〇二四年一月十八日), in
    Arabic ones (2024年1月18日), so that every date pattern reads them."""
    def one(m: re.Match) -> str:
        year = "".join(str(_CN_DIGIT[c]) for c in m.group(1))
        month, day = _cn_number(m.group(2)), _cn_number(m.group(3))
        if not (1 <= month <= 12 and 1 <= day <= 31):
            return m.group(0)
        return f"{year}年{month}月{day}日"
    return CN_NUMERAL_DATE_RE.sub(one, text)


def iso(y: str, m: str, d: str) -> str:
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


def to_iso(value: str) -> str:
    """'2021-12-24 10:12', '2020/03/27', '2018年03月15日 09:40' → ISO date; else unknown."""
    m = DATE_ANY_RE.search(value or "")
    if not m:
        return UNKNOWN
    y, mo, d = m.groups()
    if not (1 <= int(mo) <= 12 and 1 <= int(d) <= 31 and 1949 <= int(y) <= 2100):
        return UNKNOWN
    return iso(y, mo, d)
