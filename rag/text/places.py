"""A small gazetteer of Chinese administrative regions and a finder for place names in text.

It knows every province-level region, their capitals and large cities, and the cities and
counties around the corpus's own regions (so that a question about 银川 or 盐池县 is recognised
as another place, not silently matched to 利通区). Names it does not know but that look like
places (XX县, XX市, XX旗) are reported by `find_place_like`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

PROVINCE, CITY, COUNTY = "province", "city", "county"


@dataclass(frozen=True)
class Region:
    name: str  # canonical full name, e.g. 宁夏回族自治区, 吴忠市, 利通区
    short: str  # the name people use, e.g. 宁夏, 吴忠, 利通区
    level: str
    parent: str | None  # canonical name of the parent region
    aliases: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.name, self.short) + self.aliases))


_PROVINCES = [
    ("北京市", "北京", ("京",)), ("天津市", "天津", ()), ("上海市", "上海", ("沪",)), ("重庆市", "重庆", ()),
    ("河北省", "河北", ()), ("山西省", "山西", ("晋",)), ("辽宁省", "辽宁", ()), ("吉林省", "吉林", ()),
    ("黑龙江省", "黑龙江", ()), ("江苏省", "江苏", ()), ("浙江省", "浙江", ()), ("安徽省", "安徽", ()),
    ("福建省", "福建", ()), ("江西省", "江西", ("赣",)), ("山东省", "山东", ()), ("河南省", "河南", ()),
    ("湖北省", "湖北", ()), ("湖南省", "湖南", ()), ("广东省", "广东", ("粤",)), ("海南省", "海南", ()),
    ("四川省", "四川", ("川",)), ("贵州省", "贵州", ()), ("云南省", "云南", ()), ("陕西省", "陕西", ("陕",)),
    ("甘肃省", "甘肃", ()), ("青海省", "青海", ()), ("台湾省", "台湾", ()),
    ("内蒙古自治区", "内蒙古", ("蒙",)), ("广西壮族自治区", "广西", ()), ("西藏自治区", "西藏", ()),
    ("宁夏回族自治区", "宁夏", ("宁",)), ("新疆维吾尔自治区", "新疆", ()),
    ("香港特别行政区", "香港", ()), ("澳门特别行政区", "澳门", ()),
]

# (city, province) — capitals, large cities, and every city of the corpus's provinces.
_CITIES = {
    "宁夏回族自治区": "银川 石嘴山 吴忠 固原 中卫",
    "陕西省": "西安 铜川 宝鸡 咸阳 渭南 延安 汉中 榆林 安康 商洛",
    "江西省": "南昌 景德镇 萍乡 九江 新余 鹰潭 赣州 吉安 宜春 抚州 上饶",
    "内蒙古自治区": "呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布",
    "河北省": "石家庄 唐山 保定 邯郸", "山西省": "太原 大同", "辽宁省": "沈阳 大连",
    "吉林省": "长春", "黑龙江省": "哈尔滨", "江苏省": "南京 苏州 无锡 徐州 常州",
    "浙江省": "杭州 宁波 温州 绍兴", "安徽省": "合肥 芜湖", "福建省": "福州 厦门 泉州",
    "山东省": "济南 青岛 烟台 潍坊", "河南省": "郑州 洛阳", "湖北省": "武汉 宜昌 襄阳",
    "湖南省": "长沙 株洲 岳阳", "广东省": "广州 深圳 东莞 佛山 珠海", "海南省": "海口 三亚",
    "四川省": "成都 绵阳", "贵州省": "贵阳 遵义", "云南省": "昆明 大理", "甘肃省": "兰州 天水",
    "青海省": "西宁", "广西壮族自治区": "南宁 桂林 柳州", "西藏自治区": "拉萨",
    "新疆维吾尔自治区": "乌鲁木齐 克拉玛依",
}

# (county-level name, city) around the corpus's regions.
_COUNTIES = {
    "吴忠市": "利通区 红寺堡区 青铜峡市 盐池县 同心县",
    "巴彦淖尔市": "临河区 五原县 磴口县 乌拉特前旗 乌拉特中旗 乌拉特后旗 杭锦后旗",
    "萍乡市": "安源区 湘东区 莲花县 上栗县 芦溪县",
    "银川市": "兴庆区 金凤区 西夏区 永宁县 贺兰县 灵武市",
    "西安市": "新城区 碑林区 莲湖区 雁塔区 未央区 长安区",
}

# County-level names whose bare form (without 县/区) is also a common word: match only in full.
_COUNTY_SHORT_OK = {"五原县": "五原", "利通区": "利通", "青铜峡市": "青铜峡", "盐池县": "盐池", "同心县": None,
                    "磴口县": "磴口", "莲花县": None, "上栗县": "上栗", "芦溪县": "芦溪", "红寺堡区": "红寺堡"}


@lru_cache(maxsize=1)
def gazetteer() -> dict[str, Region]:
    regions: dict[str, Region] = {}
    for full, short, aliases in _PROVINCES:
        regions[full] = Region(full, short, PROVINCE, None, aliases)
    for prov, cities in _CITIES.items():
        for c in cities.split():
            full = c if c.endswith("市") else c + "市"
            regions[full] = Region(full, c, CITY, prov)
    for city, counties in _COUNTIES.items():
        for c in counties.split():
            short = _COUNTY_SHORT_OK.get(c, c)
            regions[c] = Region(c, short or c, COUNTY, city)
    return regions


def get(name: str) -> Region | None:
    return gazetteer().get(name) or _by_name().get(name)


@lru_cache(maxsize=1)
def _by_name() -> dict[str, Region]:
    out: dict[str, Region] = {}
    for r in gazetteer().values():
        for n in r.names:
            out.setdefault(n, r)
    return out


def chain(region: Region) -> list[Region]:
    """The region and its ancestors, most specific first: 利通区 → 吴忠市 → 宁夏回族自治区."""
    out = [region]
    while out[-1].parent:
        out.append(gazetteer()[out[-1].parent])
    return out


def province_of(region: Region) -> Region:
    return chain(region)[-1]


@lru_cache(maxsize=1)
def _name_re() -> re.Pattern:
    names = sorted(_by_name(), key=len, reverse=True)
    # single-character abbreviations (陕, 宁, 赣…) are too ambiguous in running text
    names = [n for n in names if len(n) >= 2]
    return re.compile("|".join(map(re.escape, names)))


# Words ending like a place that are not places.
_NOT_PLACES = set("全市 本市 各市 该市 城市 全县 本县 各县 该县 市县 区县 县区 全区 本区 各区 该区 辖区 城区 社区 "
                  "园区 景区 地区 山区 牧区 灾区 片区 试验区 示范区 开发区 新区 自治区 市区 县市 省市 全省 本省 各省 "
                  "外省 我省 我市 我县 我区 两区 城乡 街区 老区 高新区 自贸区 保护区 功能区 省区 设区市 地级市 县级市 市辖区 "
                  "副省 副市 副县".split())
_PLACE_LIKE_RE = re.compile(r"[\u4e00-\u9fff]{2,5}?(?:省|自治区|市|县|旗|自治州|州|盟)(?![\u4e00-\u9fff]{0,1}(?:场|民|委|级|直|域|长|属|管|政府|人民))")


def find_regions(text: str) -> list[tuple[Region, int, int]]:
    """Known regions named in `text` as (region, start, end), in order of appearance."""
    return [(_by_name()[m.group(0)], m.start(), m.end()) for m in _name_re().finditer(text)]


def find_place_like(text: str) -> list[str]:
    """Names that look like places (XX县, XX市, XX省…) that the gazetteer does not know."""
    out = []
    known = _by_name()
    for m in _PLACE_LIKE_RE.finditer(text):
        name = m.group(0)
        # trim leading non-name characters such as 在/对/的 ("在张家口市" → 张家口市)
        name = re.sub(r"^[在对于的和与及从到向给把被让叫问找查]+", "", name)
        if len(name) < 3 or name in _NOT_PLACES or any(name.endswith(n) for n in _NOT_PLACES):
            continue
        if re.search(r"[哪谁么]|规定|文件|要求|方案|建设|提出", name):  # a phrase, not a name
            continue
        if name in known or name[:-1] in known or any(k in name for k in known if len(k) >= 2):
            continue
        out.append(name)
    return out
