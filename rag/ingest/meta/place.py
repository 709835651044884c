"""The document's own place: region, level and the chain above it (county, city, province).

The place comes from where a document names itself — its title, its issuer, the header's
发布机构 — and only then from the text (the most frequent region, with 我市/全县-style
self-references deciding the level). Places the gazetteer (`rag.text.places`) knows are
resolved through it; a place it lacks but that a title or issuer names in the usual shape
(XX街道办事处, XX镇人民政府, XX县…) still becomes the region, with the level its suffix
gives and the parents named before it in the same string or, failing that, in the text.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from rag.records import UNKNOWN
from rag.text import places as rg

TOWNSHIP = rg.TOWNSHIP
_ORDER = {TOWNSHIP: 0, rg.COUNTY: 1, rg.CITY: 2, rg.PROVINCE: 3}
# Provinces whose districts and counties have no prefecture above them: the municipality is their city.
MUNICIPALITIES = ("北京市", "天津市", "上海市", "重庆市")

_C = "\u4e00-\u9fff"
# a character of a place name that is not a level suffix (龙岩市新罗区 is two names, not one)
_N = r"(?:(?![市省县盟区旗])[\u4e00-\u9fff])"
# Unknown names by their suffix, tried in this order at a boundary of the string.
_SHAPES: list[tuple[str, re.Pattern[str]]] = [
    (rg.PROVINCE, re.compile(rf"{_N}{{2,7}}?(?:维吾尔自治区|回族自治区|壮族自治区|自治区|特别行政区|省)")),
    (rg.CITY, re.compile(rf"{_N}{{2,3}}(?:{_N}{{1,3}}族)+自治州|{_N}{{2,7}}?(?:自治州|地区|盟)|{_N}{{2,4}}?州")),
    (rg.COUNTY, re.compile(rf"{_N}{{2,4}}(?:{_N}{{1,3}}族)+自治(?:县|旗)|{_N}{{2,7}}?(?:自治县|自治旗|县|区|旗)|{_N}县")),
    (rg.CITY, re.compile(rf"{_N}{{2,7}}?市")),
    (TOWNSHIP, re.compile(rf"{_N}{{2,8}}?(?:街道|苏木|民族乡|镇|乡)")),
]
_SUFFIX_CHARS = "县区旗市州盟镇乡街"
# What may stand between two places of one name chain, or after the last one.
_ORG_WORDS = ("人民政府", "党工委", "工作委员会", "委员会", "党委", "办事处", "行政公署", "县委", "市委", "区委", "州委",
              "旗委", "盟委", "省委", "人大", "政协")
# a name never starts with these, and never runs on into a word (县长, 县域, 市场, 区级…)
_BAD_FIRST = "我本该各全每此两三四五六七八九十百度年的和及与暨共"
_RUNS_ON_RE = re.compile(r"长|域|级|城|场|民|属|直|辖|情|内|外|镇化|委员|场")
_NOT_PLACES = set(getattr(rg, "_NOT_PLACES", set())) | set(
    "示范县 示范区 示范市 先行区 试验区 集聚区 经济区 新城区 老城区 主城区 中心城区 县城 县乡 乡镇 镇乡 镇街 街镇 全镇 本镇 "
    "全乡 全旗 本旗 各旗 全盟 全州 本州 各州 该州 全街道 各街道 本街道 全省 全国 城乡 市区县 县市区 旗县 旗县市 "
    "社区 辖区 城区 园区 景区 地区 山区 牧区 库区 片区 街区 小区 功能区 保护区 开发区 高新区 新区 自贸区 "
    "省区 市县 区县 县区 市州 州市".split())
# development zones, parks and pilot areas: not administrative divisions, whatever their length
_ZONE_RE = re.compile(r"(?:开发区|高新区|高新技术产业开发区|经济技术开发区|工业园区|产业园区|园区|试验区|集聚区|综合保税区|保税区|自贸区|示范区)$")
_ANCHOR_BEFORE_RE = re.compile(rf"(?:中共|关于|印发|^|[\s、,,。;:《》()“”【】\[\]|/]|\d{{4}}年度?|{'|'.join(_ORG_WORDS)})$")
_PHRASE_IN_NAME_RE = re.compile(r"关于|印发|委员会|常委会|人民|政府|人大|政协|党委")
_LEAD_STRIP_RE = re.compile(r"^(?:【[^】]{1,8}】|一图读懂|图解|图说|政策解读[::]?)+")


@dataclass
class Place:
    name: str  # as written (the canonical name when the gazetteer knows it)
    level: str
    region: rg.Region | None
    start: int
    end: int


def _known(s: str, context: str | None = None) -> list[Place]:
    """The gazetteer's regions in `s` (a name several divisions share is resolved with the
    document's text as context), except a short name that runs on into a longer place name
    (岳阳 in 岳阳县, 鼓楼 in 鼓楼街道): that one is the longer name's."""
    out = []
    for r, a, b in rg.find_regions(s, context):
        if s[a:b] != r.name and b < len(s) and s[b] in _SUFFIX_CHARS:
            continue
        out.append(Place(r.name, r.level, r, a, b))
    return out


def _shape_at(s: str, pos: int) -> Place | None:
    for level, rx in _SHAPES:
        m = rx.match(s, pos)
        if m:
            name = m.group(0)
            if name in _NOT_PLACES or any(name.endswith(w) and len(name) <= len(w) + 1 for w in _NOT_PLACES):
                continue
            if _ZONE_RE.search(name):  # 长兴经济技术开发区: a zone, not a division; its place is the one before
                continue
            if name[0] in _BAD_FIRST or name.startswith("中共") or _RUNS_ON_RE.match(s, m.end()):
                continue
            if _PHRASE_IN_NAME_RE.search(name):  # "常委会关于区(人民政府)": words, not a name
                continue
            return Place(name, level, None, m.start(), m.end())
    return None


def find_places(s: str, context: str | None = None) -> list[Place]:
    """Places named in a title or an organisation's name, in order: the gazetteer's and, at the
    boundaries of the string (its start, after 中共/关于/a year/an organisation word/another
    place), names shaped like places (XX县, XX街道, XX自治州…)."""
    if not s or s == UNKNOWN:
        return []
    s = _LEAD_STRIP_RE.sub(lambda m: " " * len(m.group(0)), s)
    known = _known(s, context)
    out: list[Place] = []
    covered = [False] * len(s)
    for p in known:
        out.append(p)
        covered[p.start:p.end] = [True] * (p.end - p.start)
    anchors = {0} | {p.end for p in known}
    pos = 0
    while pos < len(s):
        if covered[pos] or not (pos in anchors or _ANCHOR_BEFORE_RE.search(s[max(0, pos - 6):pos])):
            pos += 1
            continue
        word = next((w for w in ("中共",) + _ORG_WORDS if s.startswith(w, pos)), None)
        if word:  # 北京市密云区|人民政府|鼓楼街道: the next place starts after the organisation word
            anchors.add(pos + len(word))
            pos += len(word)
            continue
        p = _shape_at(s, pos)
        if p is None or any(covered[p.start:p.end]):
            pos += 1
            continue
        out.append(p)
        covered[p.start:p.end] = [True] * (p.end - p.start)
        anchors.add(p.end)
        pos = p.end
    out.sort(key=lambda p: p.start)
    # a township whose name begins with a known region's name (鼓楼街道, not 鼓楼区)
    merged: list[Place] = []
    for p in out:
        if merged and p.level == TOWNSHIP and merged[-1].region is not None and merged[-1].end == p.start:
            stem = s[merged[-1].start:p.start]
            if not stem.endswith(("区", "县", "市", "旗", "州", "盟", "省")):
                merged[-1] = Place(stem + p.name, TOWNSHIP, None, merged[-1].start, p.end)
                continue
        merged.append(p)
    return merged


@dataclass
class Resolved:
    region: str = UNKNOWN
    level: str = UNKNOWN
    province: str = UNKNOWN
    city: str = UNKNOWN
    county: str = UNKNOWN


def _most_specific(places: list[Place]) -> Place | None:
    if not places:
        return None
    return min(places, key=lambda p: (_ORDER.get(p.level, 9), -p.start))


def _fill_from_region(res: Resolved, region: rg.Region) -> None:
    ancestors = rg.chain(region)
    res.province = ancestors[-1].name if ancestors[-1].level == rg.PROVINCE else res.province
    city = next((r.name for r in ancestors if r.level == rg.CITY), None)
    if city:
        res.city = city
    elif res.province in MUNICIPALITIES and _ORDER.get(region.level, 9) < _ORDER[rg.CITY]:
        res.city = res.province


def _text_counts(text: str) -> Counter:
    return Counter(r.name for r, _, _ in rg.find_regions(text))


def _parent_from_text(name: str, level: str, text: str) -> rg.Region | None:
    """A known region of a higher level that the text writes right before `name` (龙岩市新罗区):
    the parent of a place the gazetteer lacks. A region the text merely mentions is no parent."""
    found = []
    for r, a, b in rg.find_regions(text):
        if _ORDER.get(r.level, 9) > _ORDER.get(level, 9) and text.startswith(name, b):
            found.append(r)
    return min(found, key=lambda r: _ORDER[r.level]) if found else None


def _county_from_text(text: str, exclude: str) -> str:
    """The county-level place a township document names most (雷山县 in 雷山县委依法治县办)."""
    counts: Counter = Counter()
    for r, _, _ in rg.find_regions(text):
        if r.level == rg.COUNTY:
            counts[r.name] += 1
    for m in re.finditer(rf"[{_C}]{{2,7}}?(?:自治县|县|区|旗)(?=委|人民政府|政府|人大|政协|司法局|依法治)", text):
        name = re.sub(r"^(?:中共|关于|按照|根据|在|经|由)", "", m.group(0))
        if name not in _NOT_PLACES and len(name) >= 2 and name != exclude:
            counts[name] += 1
    return counts.most_common(1)[0][0] if counts else UNKNOWN


def resolve(sources: list[str], text: str, self_level: str | None = None) -> Resolved:
    """The document's place from `sources` (its title, issuer, header organisation…, in order of
    trust) and its text. The first source naming a place decides; later sources and the text
    only add parents. Without any: the text's most frequent region (`self_level`, the level the
    document's 我市/全县 words point to, wins ties)."""
    res = Resolved()
    chains = [find_places(s, text) for s in sources]
    own = next((c for c in chains if c), [])
    if not own:
        return _from_text(res, text, self_level)
    best = _most_specific(own)
    # parents named with it, in the same string or in another source that names the same place
    parents = [p for p in own if _ORDER.get(p.level, 9) > _ORDER.get(best.level, 9) and p.start < best.start]
    for c in chains:
        if c is own:
            continue
        if any(p.name == best.name or (p.region and best.region and p.region.name == best.region.name) for p in c):
            idx = next(i for i, p in enumerate(c) if p.name == best.name or (p.region and best.region
                                                                             and p.region.name == best.region.name))
            parents += [p for p in c[:idx] if _ORDER.get(p.level, 9) > _ORDER.get(best.level, 9)]
    res.region = best.region.name if best.region else best.name
    res.level = best.level
    if best.region is not None:
        _fill_from_region(res, best.region)
        return res
    # an unknown place: parents from the same string(s), then from the text
    county = None
    if best.level == TOWNSHIP:
        county = next((p for p in reversed(parents) if p.level in (rg.COUNTY, rg.CITY)), None)
        if county is None:
            name = _county_from_text(text, best.name)
            if name != UNKNOWN:
                county = Place(name, rg.COUNTY, rg.get(name), 0, 0)
        if county is not None:
            res.county = county.region.name if county.region else county.name
            if county.region is not None:
                _fill_missing(res, county.region)
    for p in sorted(parents, key=lambda p: _ORDER.get(p.level, 9)):
        if p is county:
            continue
        if p.region is not None:
            _fill_missing(res, p.region)
        elif p.level == rg.CITY and res.city == UNKNOWN and res.level != rg.CITY:
            res.city = p.name
        elif p.level == rg.PROVINCE and res.province == UNKNOWN:
            res.province = p.name
    if res.level == rg.CITY and res.city == UNKNOWN:
        res.city = res.region
    if res.province == UNKNOWN or (res.city == UNKNOWN and res.level in (rg.COUNTY, TOWNSHIP)):
        below = res.county if res.level == TOWNSHIP and res.county != UNKNOWN else res.region
        parent = _parent_from_text(below, rg.COUNTY if res.level == TOWNSHIP else res.level, text)
        if parent is not None:
            _fill_missing(res, parent)
    if res.province in MUNICIPALITIES and res.city == UNKNOWN and res.level in (rg.COUNTY, TOWNSHIP):
        res.city = res.province
    return res


def _fill_missing(res: Resolved, region: rg.Region) -> None:
    """Province and city of `res` from a known region above it, where still unknown."""
    ancestors = rg.chain(region)
    prov = ancestors[-1]
    if res.province == UNKNOWN and prov.level == rg.PROVINCE:
        res.province = prov.name
    if res.city == UNKNOWN and res.level in (rg.COUNTY, TOWNSHIP):
        city = next((r.name for r in ancestors if r.level == rg.CITY), None)
        if city:
            res.city = city


_SELF_REF = {
    rg.CITY: re.compile(r"我市|全市|本市|市政府|我州|全州|我盟|全盟"),
    rg.COUNTY: re.compile(r"我县|全县|本县|县政府|我旗|全旗|我区|全区"),
    rg.PROVINCE: re.compile(r"我省|全省|本省|省政府|自治区人民政府|全区"),
}


def self_level(text: str) -> str | None:
    """The level the document's own words point to (我市, 全县…), when one dominates."""
    counts = {lv: len(rx.findall(text)) for lv, rx in _SELF_REF.items()}
    lv, n = max(counts.items(), key=lambda kv: kv[1])
    return lv if n >= 2 and n > 2 * sorted(counts.values())[-2] else None


def _from_text(res: Resolved, text: str, level: str | None) -> Resolved:
    counts = _text_counts(text)
    if not counts:
        return res
    order = {rg.COUNTY: 0, rg.CITY: 1, rg.PROVINCE: 2}

    def key(kv):
        r = rg.get(kv[0])
        return (kv[1] + (0.5 if level and r.level == level else 0), -order.get(r.level, 3))

    best = rg.get(max(counts.items(), key=key)[0])
    res.region, res.level = best.name, best.level
    _fill_from_region(res, best)
    return res
