"""The gazetteer (rag/text/data/divisions.tsv) and the place finder of rag/text/places.py.
Offline and fast: the data is committed; no model, no index."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from support.fakes import ROOT

from rag.text import places as rg
from rag.text.places import CITY, COUNTY, PROVINCE, TOWNSHIP, Gazetteer, Region

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def g() -> Gazetteer:
    return Gazetteer.default()


def names(regions) -> list[str]:
    return [r.name for r in regions]


def chain_of(name: str) -> list[str]:
    r = rg.get(name)
    assert r is not None, name
    return names(rg.chain(r))


def found(text: str, gaz: Gazetteer | None = None) -> list[str]:
    return [r.name for r, _, _ in (gaz.find(text) if gaz else rg.find_regions(text))]


# ------------------------------------------------------------------ data

def test_counts_per_level_are_those_of_the_official_divisions(g):
    counts = Counter(r.level for r in g.regions)
    assert counts[PROVINCE] == 34  # 31 + 台湾, 香港, 澳门
    assert 330 <= counts[CITY] <= 340  # 333 prefecture-level (+ 雄安新区)
    assert 2840 <= counts[COUNTY] <= 2860  # 2,844 county-level (+ a few statistical units)
    assert counts[TOWNSHIP] == 0  # townships come from the corpus, not the data
    assert len({r.code for r in g.regions}) == len(g.regions)


def test_every_parent_exists_and_levels_nest(g):
    for r in g.regions:
        ch = g.chain(r)
        assert ch[-1].level == PROVINCE, r
        assert [x.level for x in ch] == sorted((x.level for x in ch), key=rg.LEVEL_RANK.get, reverse=True)
        if r.parent:
            assert g.by_code(r.parent_code).name == r.parent


def test_nothing_is_loaded_at_import():
    import subprocess
    import sys

    code = "import rag.text.places as p; assert p.Gazetteer._default is None; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.stdout.strip() == "ok", out.stderr


# ------------------------------------------------------------------ chains and names

@pytest.mark.parametrize("name, chain", [
    ("利通区", ["利通区", "吴忠市", "宁夏回族自治区"]),
    ("五原县", ["五原县", "巴彦淖尔市", "内蒙古自治区"]),
    ("静海区", ["静海区", "天津市"]),
    ("岳阳县", ["岳阳县", "岳阳市", "湖南省"]),
    ("岳阳", ["岳阳市", "湖南省"]),
    ("南昌县", ["南昌县", "南昌市", "江西省"]),
    ("南昌", ["南昌市", "江西省"]),
    ("昌吉州", ["昌吉回族自治州", "新疆维吾尔自治区"]),
    ("昌吉回族自治州", ["昌吉回族自治州", "新疆维吾尔自治区"]),
    ("昌吉", ["昌吉回族自治州", "新疆维吾尔自治区"]),
    ("凉山州", ["凉山彝族自治州", "四川省"]),
    ("黔南州", ["黔南布依族苗族自治州", "贵州省"]),
    ("锡林郭勒盟", ["锡林郭勒盟", "内蒙古自治区"]),
    ("科右前旗", ["科尔沁右翼前旗", "兴安盟", "内蒙古自治区"]),
    ("互助县", ["互助土族自治县", "海东市", "青海省"]),
    ("义乌市", ["义乌市", "金华市", "浙江省"]),
    ("义乌", ["义乌市", "金华市", "浙江省"]),
    ("仙桃市", ["仙桃市", "湖北省"]),  # directly under the province
    ("万州区", ["万州区", "重庆市"]),
    ("宁夏", ["宁夏回族自治区"]),
    ("宁", ["宁夏回族自治区"]),  # one-character aliases still work for get()
    ("陕", ["陕西省"]),
    ("祁阳县", ["祁阳市", "永州市", "湖南省"]),  # former name
    ("福州市鼓楼区", ["鼓楼区", "福州市", "福建省"]),  # qualified name
    ("北京市东城区", ["东城区", "北京市"]),  # a path of names
])
def test_chains(name, chain):
    assert chain_of(name) == chain


def test_county_and_its_prefecture_differ():
    assert rg.get("岳阳") != rg.get("岳阳县") and rg.get("岳阳").level == CITY
    assert rg.get("南昌县") != rg.get("南昌市") and rg.get("南昌县").level == COUNTY
    assert found("湖南岳阳县") == ["湖南省", "岳阳县"]
    assert found("在岳阳开会") == ["岳阳市"]


def test_province_city_and_county_of(g):
    assert rg.province_of(rg.get("利通区")).name == "宁夏回族自治区"
    assert rg.city_of(rg.get("利通区")).name == "吴忠市"
    assert rg.city_of(rg.get("静海区")).name == "天津市"  # a municipality's district
    assert rg.city_of(rg.get("四平市")).name == "四平市"
    assert rg.city_of(rg.get("天津市")) is None and rg.city_of(rg.get("仙桃市")) is None
    assert rg.county_of(rg.get("义乌市")).name == "义乌市" and rg.county_of(rg.get("金华市")) is None


def test_lookup_returns_every_division_of_a_name(g):
    gulou = rg.lookup("鼓楼区")
    assert len(gulou) == 4 and {names(g.chain(r))[1] for r in gulou} == {"南京市", "福州市", "徐州市", "开封市"}
    assert rg.get("鼓楼区") == gulou[0]  # the most prominent: under a provincial capital, lowest code
    assert g.chain(rg.get("朝阳区"))[1].name == "北京市"  # under a municipality first
    assert g.chain(rg.get("普陀区"))[1].name == "上海市"
    assert rg.lookup("不存在的地方") == [] and rg.get("不存在的地方") is None
    # the key an index should store: get() maps it back to that division alone
    for r in gulou:
        assert rg.get(rg.key_of(r)) == r
    assert rg.key_of(rg.get("利通区")) == "利通区"


def test_candidates_are_ordered_by_context():
    assert names(rg.chain(rg.candidates("鼓楼区", context="福州市人民政府")[0]))[1] == "福州市"
    assert names(rg.chain(rg.candidates("鼓楼区")[0]))[1] == "南京市"


def test_gazetteer_dict_and_region_names_keep_their_old_meaning():
    gz = rg.gazetteer()
    assert gz["利通区"].short == "利通" and gz["吴忠市"].short == "吴忠" and gz["宁夏回族自治区"].short == "宁夏"
    assert "福州市鼓楼区" in gz and gz["鼓楼区"].parent == "南京市"
    assert rg.get("同心县").short == "同心县"  # no safe short form: the short is the full name
    assert set(rg.get("利通区").names) == {"利通区", "利通"}


# ------------------------------------------------------------------ the finder

def test_finds_chains_in_order_longest_first():
    m = rg.find_regions("宁夏回族自治区吴忠市利通区")
    assert [(r.name, s, e) for r, s, e in m] == [("宁夏回族自治区", 0, 7), ("吴忠市", 7, 10), ("利通区", 10, 13)]
    assert found("巴彦淖尔五原") == ["巴彦淖尔市", "五原县"]
    assert found("内蒙古自治区五原县和宁夏") == ["内蒙古自治区", "五原县", "宁夏回族自治区"]
    assert found("科右前旗、达茂旗和锡林郭勒盟") == ["科尔沁右翼前旗", "达尔罕茂明安联合旗", "锡林郭勒盟"]
    assert found("昌吉州和凉山州") == ["昌吉回族自治州", "凉山彝族自治州"]


@pytest.mark.parametrize("text", [
    "农民专业合作社", "合作市场主体", "东方红", "东方市场", "和平发展", "维护和平区域稳定", "城关地区",
    "城关", "新华书店", "长安街", "永安", "第五原则", "推广西部经验", "黄河南岸", "便利通道", "丰富县域文化",
    "创建示范县", "振兴县域经济", "探索县域治理", "信息县级平台", "长治久安", "大理石", "城区道路",
    "老城区改造", "建设新县城", "各市和县", "大兴调查研究之风", "新建项目", "光明日报", "南部地区", "比如说",
    "公安机关", "资源整合", "会同有关部门", "工业强县、旅游兴县", "生态富县", "为人民和国家", "在威远镇、丹麻镇",
    "大厂镇", "新会员", "湖里的鱼",
])
def test_common_words_are_no_places(text):
    assert rg.find_regions(text) == []


@pytest.mark.parametrize("text, expected", [
    ("甘肃省合作市", ["甘肃省", "合作市"]),  # full forms of common words still match
    ("合作市人民政府", ["合作市"]),
    ("东方市人民政府", ["东方市"]),
    ("天津市和平区", ["天津市", "和平区"]),
    ("阳泉市城区", ["阳泉市", "城区"]),  # an everyday-word name right after its parent
    ("洛阳市老城区", ["洛阳市", "老城区"]),
    ("湖北部分地区", ["湖北省"]),  # 北部 is a word, but 部分 takes the 部
    ("山西省长治市", ["山西省", "长治市"]),
    ("威县:以示范创建为抓手", ["威县"]),  # a one-character name at the start
    ("延安市富县", ["延安市", "富县"]),
    ("新县2023年法治政府建设工作报告", ["新县"]),
    ("吕梁市兴县", ["吕梁市", "兴县"]),
    ("萍乡乡镇和萍乡村民", ["萍乡市", "萍乡市"]),  # 乡镇 of 萍乡, not a township 萍乡乡
    ("去宁夏", ["宁夏回族自治区"]),
])
def test_places_that_look_like_words(text, expected):
    assert found(text) == expected


def test_repeated_names_are_resolved_by_context():
    def parents(text, **kw):
        return [(m.region.name, names(rg.chain(m.region))[1], m.ambiguous) for m in rg.find_regions(text, **kw)
                if m.region.name in ("鼓楼区", "朝阳区", "东城区", "城关区")]

    # an explicit parent right before the name wins
    assert parents("南京市鼓楼区和福州市鼓楼区") == [("鼓楼区", "南京市", False), ("鼓楼区", "福州市", False)]
    assert parents("吉林省长春市朝阳区") == [("朝阳区", "长春市", False)]
    # else an ancestor named elsewhere in the text
    assert parents("福州市人民政府印发通知。鼓楼区要落实") == [("鼓楼区", "福州市", False)]
    assert parents("甘肃省兰州市。城关区") == [("城关区", "兰州市", False)]
    assert parents("西藏拉萨:城关区") == [("城关区", "拉萨市", False)]
    # …or in the context (the document, when the title is searched)
    assert parents("鼓楼区法治政府建设实施方案", context="开封市人民政府") == [("鼓楼区", "开封市", False)]
    # else the most prominent, marked as a guess with every candidate
    m = rg.find_regions("鼓楼区")[0]
    assert m.ambiguous and len(m.candidates) == 4 and m.candidates[0] == m.region == rg.get("鼓楼区")
    # a unique name needs no context
    assert parents("东城区") == [("东城区", "北京市", False)] == parents("北京市东城区")


def test_match_unpacks_like_the_old_tuples():
    m = rg.find_regions("利通区")[0]
    r, s, e = m
    assert (r.name, s, e) == ("利通区", 0, 3) and m.region is r and m.form == "利通区" and not m.ambiguous
    assert rg.find_regions("吴忠利通")[1].form == "利通"


def test_traditional_text_is_found_after_normalisation():
    from rag.ingest.clean import normalize

    assert found(normalize("寧夏回族自治區吳忠市利通區")) == ["宁夏回族自治区", "吴忠市", "利通区"]


# ------------------------------------------------------------------ townships

def test_a_township_learned_with_with_places_is_found_with_its_chain(g):
    gulou = Region("鼓楼街道", "鼓楼街道", TOWNSHIP, "密云区")
    g2 = g.with_places([gulou])
    assert g.get("鼓楼街道") is None and rg.get("鼓楼街道") is None  # no global change
    m = g2.find("鼓楼街道2024年法治政府建设工作计划")
    assert m and m[0].region.name == "鼓楼街道"
    assert names(g2.chain(m[0].region)) == ["鼓楼街道", "密云区", "北京市"]
    assert g2.city_of(m[0].region).name == "北京市" and g2.county_of(m[0].region).name == "密云区"
    # the township's county settles which 鼓楼 is meant (none of the four 鼓楼区)
    assert found("北京市密云区鼓楼街道", g2) == ["北京市", "密云区", "鼓楼街道"]


def test_townships_of_the_same_name_are_told_apart_by_context(g):
    g2 = g.with_places([Region("东城街道", "东城街道", TOWNSHIP, "新罗区"),
                        Region("东城街道", "东城街道", TOWNSHIP, "东莞市")])
    assert len(g2.lookup("东城街道")) == 2

    def county(text):
        return [names(g2.chain(m.region))[1] for m in g2.find(text) if m.region.level == TOWNSHIP]

    assert county("龙岩市新罗区东城街道办事处") == ["新罗区"]
    assert county("东莞市东城街道") == ["东莞市"]
    assert county("东城街道2022年报告。龙岩市人民政府") == ["新罗区"]
    assert g2.find("东城街道")[0].ambiguous


def test_with_places_resolves_a_parent_given_as_a_path(g):
    g2 = g.with_places([Region("文新街道", "文新街道", TOWNSHIP, "杭州市西湖区"),
                        Region("南站街道", "南站街道", TOWNSHIP, "南昌市西湖区")])
    assert names(g2.chain(g2.get("文新街道")))[:3] == ["文新街道", "西湖区", "杭州市"]
    assert names(g2.chain(g2.get("南站街道")))[:3] == ["南站街道", "西湖区", "南昌市"]
    with pytest.raises(ValueError):
        g.with_places([Region("某某镇", "某某镇", TOWNSHIP, "不存在县")])


def test_townships_named_after_their_county_are_proposed(g):
    props = g.townships_in("北京市密云区人民政府鼓楼街道办事处;阳朔县白沙镇;全县各乡镇;五原县乡镇")
    assert [(r.name, r.parent, r.level) for r in props] == [("鼓楼街道", "密云区", TOWNSHIP),
                                                             ("白沙镇", "阳朔县", TOWNSHIP)]


# ------------------------------------------------------------------ fixtures and callers

def _fixture_meta():
    for f in ("a", "b"):
        for line in (FIXTURES / "expected" / f"{f}_expected.jsonl").read_text(encoding="utf-8").splitlines():
            yield json.loads(line)["meta"]


def test_every_region_of_the_fixture_corpus_is_known_with_its_chain(g):
    for meta in _fixture_meta():
        if meta["level"] == TOWNSHIP:
            county = g.get(meta["county"])
            assert county is not None and county.level == COUNTY, meta
            township = Region(meta["region"], meta["region"], TOWNSHIP, None, (), "", county.code)
            r = g.with_places([township]).get(meta["region"])
        else:
            r = g.get(meta["region"])
        assert r is not None and r.level == meta["level"], meta
        assert g.province_of(r).name == meta["province"], meta
        city = g.city_of(r)
        assert (city.name if city else "unknown") == meta["city"], meta
        assert g.resolve(meta["issuer"]) in (None, r) or r in g.chain(g.resolve(meta["issuer"])) or \
            g.resolve(meta["issuer"]) in g.chain(r), meta


def test_find_place_like_keeps_reporting_unknown_names():
    assert rg.find_place_like("在张家口市怎么办") == []  # known now: find_regions reports it
    assert found("在张家口市怎么办") == ["张家口市"]
    assert rg.find_place_like("在某某县怎么办") == ["某某县"]
    assert rg.find_place_like("全市的城市建设") == []


def test_same_level_swaps_of_the_synthetic_benchmark_still_work(g):
    by_level = {}
    for r in rg.gazetteer().values():
        by_level.setdefault(r.level, []).append(r)
    rnd = random.Random(7)
    for level in (PROVINCE, CITY, COUNTY):
        other = rnd.choice(by_level[level])
        assert rg.chain(other)[-1].level == PROVINCE and other.short


def test_a_whole_document_is_scanned_quickly():
    # a smoke run of the finder over 100k characters of plan text (no timing assertion)
    text = ("宁夏回族自治区吴忠市利通区人民政府关于印发法治政府建设实施方案的通知。各乡镇人民政府,"
            "区直各部门:现将《利通区法治政府建设实施方案(2021—2025年)》印发给你们,请结合实际认真贯彻落实。"
            "全面推进依法行政,推广西部地区经验,维护社会长治久安,建设示范县,振兴县域经济。")
    big = (text * (100_000 // len(text) + 1))[:100_000]
    hits = rg.find_regions(big)
    assert len(hits) > 1000 and {r.name for r, _, _ in hits} == {"宁夏回族自治区", "吴忠市", "利通区"}


def test_a_generic_township_phrase_is_no_name():
    # "什么时候前完成乡(镇)履职事项清单": 乡(镇) is any township, not a place called 候前完成乡
    assert rg.township_names("浑源县要求什么时候前完成乡(镇)履职事项清单编制并公布?") == []
    assert [n for n, _, _ in rg.township_names("杨集镇2023年排查调处了多少起矛盾纠纷?")] == ["杨集镇"]


def test_a_department_has_its_short_and_full_names():
    from rag.text.bodies import other_names

    assert other_names("县市场监管局") == ["县市场监督管理局"]
    assert other_names("林口县市场监督管理局") == ["林口县市场监管局"]
    assert other_names("县司法局") == []


def test_a_township_right_after_a_date_keeps_its_name():
    assert [n for n, _, _ in rg.township_names("2023年青龙山镇开展了哪些普法活动?")] == ["青龙山镇"]
    assert [n for n, _, _ in rg.township_names("5月白沙镇召开了会议")] == ["白沙镇"]
    assert rg.township_names("第一师阿拉尔市2023年向团镇下放了多少项执法事项?") == []  # 团镇: 团场 and 镇


def test_short_and_full_names_never_double_a_part():
    from rag.text.bodies import other_names

    assert other_names("县行政审批局") == [] and other_names("县人民政府办") == []
    assert other_names("区政府办公室") == ["区人民政府办公室"]
