"""Word (.docx) → text, read from the XML directly (python-docx for the package only): each
paragraph one line, with the list numbering Word renders (一、/(一)/1./(1)) written out as
the reader sees it; text boxes, deletions and moved-from runs skipped.
"""

from __future__ import annotations

import io
import re

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
