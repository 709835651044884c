"""Bytes → text: byte-order marks, strict decoding in the likely codecs (UTF-8, GB18030,
Big5, UTF-16/32), and when several decode, the one whose text reads most like Chinese (a
plausibility score over common hanzi); charset-normalizer only as a hint, since alone it
mis-decodes short GB18030/Big5 snippets. `normalize_text` unifies line breaks and drops
control characters for every format.
"""

from __future__ import annotations

import functools
import re

from rag.errors import LoadError

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
# Cc except \t \n \r \v \f and U+0085 (those are line breaks or kept)
_CONTROL_RE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")
_LINE_BREAKS = str.maketrans({"\f": "\n", "\v": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n"})

BINARY_CONTROL_SHARE = 0.10  # more control characters than this (share of all) → not text
LENIENT_MAX_ERRORS = 0.02  # share of undecodable characters tolerated when nothing decodes strictly


def normalize_text(text: str) -> str:
    """Line endings → "\\n", control characters except "\\t" removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_LINE_BREAKS)
    return _CONTROL_RE.sub("", text)


def one_line(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


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
    return normalize_text(text), encoding


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
