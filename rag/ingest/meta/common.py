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
