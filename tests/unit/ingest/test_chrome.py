"""Page chrome (rag/ingest/chrome.py): every rule on the fixture line that shows it, and body
sentences that merely contain the same words stay."""

from pathlib import Path

import pytest

from rag.ingest import chrome
from rag.ingest.clean import clean_document
from rag.ingest.load import load_file
from rag.text.normalize import normalize

FIXTURES = Path(__file__).parents[2] / "fixtures" / "docs"


def _fixture_lines(name: str) -> list[str]:
    loaded = load_file(FIXTURES / name)
    return [ln.strip() for ln in normalize(loaded.text).split("\n")]


@pytest.mark.parametrize("rule", chrome.RULES, ids=[r.name for r in chrome.RULES])
def test_rule_example_comes_from_its_fixture(rule):
    lines = _fixture_lines(rule.fixture)
    assert any(rule.example in ln for ln in lines), f"{rule.name}: {rule.example!r} not in {rule.fixture}"


@pytest.mark.parametrize("rule", chrome.RULES, ids=[r.name for r in chrome.RULES])
def test_rule_removes_its_example_from_its_fixture(rule):
    assert rule.pattern.search(rule.example), f"{rule.name} does not match its own example"
    text = clean_document(load_file(FIXTURES / rule.fixture).text).text
    if rule.action == "strip":
        assert not any(ln.startswith(rule.example.split("》")[0][:4]) and rule.pattern.match(ln)
                       for ln in text.split("\n")), rule.name
    else:
        assert rule.example not in text.split("\n"), f"{rule.name}: {rule.example!r} survived cleaning"


@pytest.mark.parametrize("line", [
    # 来源, 首页, 打印, 分享, 时间, 日期 inside sentences
    "加强源头治理,从来源上减少矛盾纠纷的发生,全年化解历史积案9件。",
    "在政府门户网站首页显著位置开设法治政府建设专栏,及时发布工作动态。",
    "推行涉企证照“免打印”,实现电子证照跨部门共享,全年减少纸质材料3000余份。",
    "分享基层创新做法,推动形成可复制可推广的经验。",
    "时间节点要明确,各单位要按照任务分工抓好落实,确保按期完成。",
    "日期:以邮戳为准,逾期不再受理,请各单位认真组织填报。",
    "县政府常务会议专题研究法治政府建设,县委、县政府主要负责人带头履行第一责任人职责。",
    "欢迎社会各界通过来信来访等方式监督政府依法行政工作,共同营造良好法治环境。",
])
def test_sentences_with_chrome_words_stay(line):
    assert chrome.match(line) is None and chrome.match(line, head=True) is None
    assert line in clean_document(f"某县法治政府建设实施方案\n{line}\n二、主要任务").text


def test_bare_provenance_line_stays_but_info_bar_goes():
    raw = ("全力建设服务型法治政府\n( 2023-12-06 ) 稿件来源: 法治日报法治调研\n熊运浪\n"
           "来源:县司法局 发布时间:2023-02-27 16:08 浏览次数:12 字体:【大 中 小】\n"
           "法治政府建设是推进全面依法治国的重点任务和主体工程,对法治国家建设具有示范带动作用。")
    text = clean_document(raw).text
    assert "( 2023-12-06 ) 稿件来源: 法治日报法治调研" in text  # the article's own dateline is quotable
    assert "浏览次数" not in text and "发布时间" not in text


def test_bare_date_line_next_to_widgets_goes_with_them():
    raw = ("稠城街道2021年度法治政府建设工作报告\n发布时间:2022-02-11 09:20:15\n来源:稠城街道 点击率:\n\n"
           "2021年,稠城街道在义乌市委、市政府的正确领导下,推进基层依法治理,取得明显成效。")
    text = clean_document(raw).text
    assert "发布时间" not in text and "点击率" not in text


def test_site_banner_is_not_an_issuer_line_or_a_signature():
    raw = ("天津市武清区人民政府\n无障碍 简体| 繁体\n"
           "岳阳县人民政府\n关于印发《岳阳县法治政府建设实施方案》的通知\n"
           "各乡镇党委和人民政府,县直机关各单位,各人民团体:\n现将方案印发给你们,请结合实际认真贯彻执行。\n"
           "岳阳县人民政府\n2022年3月30日")
    lines = clean_document(raw).text.split("\n")
    assert "天津市武清区人民政府" not in lines  # the site's name above the page
    assert lines.count("岳阳县人民政府") == 2  # the title's issuer line and the signature stay


def test_related_block_takes_its_headlines():
    raw = ("会议要求,各地要对标对表补齐短板,确保示范创建工作取得实效。\n相关新闻\n"
           "河北:力争打造10个左右国家级法治政府建设示范地区和项目\n邢台市召开全面依法治市委员会第五次会议")
    text = clean_document(raw).text
    assert "相关新闻" not in text and "邢台市召开" not in text and "确保示范创建工作取得实效" in text


def test_gloss_garbage_and_column_tags_are_stripped_not_dropped():
    text = clean_document("??陽朔縣白沙鎮(zhèn)2020年法治政府建設(shè)工作總(zǒng)結(jié)\n"
                          "【政策解读】《互助土族自治县法治政府建设实施方案》政策解读").text
    assert text.split("\n") == ["阳朔县白沙镇2020年法治政府建设工作总结", "《互助土族自治县法治政府建设实施方案》政策解读"]


def test_tab_table_becomes_rows_and_a_lone_tab_stays_space():
    text = clean_document("序号\t工作任务\t牵头单位\n1\t开展专项清理\t区司法局\n\n1.健全\t制度").text
    assert text.split("\n") == ["序号 | 工作任务 | 牵头单位", "1 | 开展专项清理 | 区司法局", "1.健全 制度"]


def test_one_cell_per_line_table_is_regrouped():
    raw = "序号 |\n工作任务 |\n牵头\n单位 |\n1 |\n开展专项清理 |\n县政府办 县司法局 |\n2 |\n推广柔性执法 |\n县司法局 |"
    assert clean_document(raw).text.split("\n") == [
        "序号 | 工作任务 | 牵头单位", "1 | 开展专项清理 | 县政府办 县司法局", "2 | 推广柔性执法 | 县司法局"]


def test_no_rule_backtracks_on_long_lines():
    import time

    lines = ["བོད་ཡིག " * 20 + "2023", "首页" + " " * 26 + "x", "政务公开 " * 24 + "。", "| " * 60 + "a",
             "【" * 30 + "】" * 30, "县" * 119]
    for line in lines:
        t0 = time.perf_counter()
        chrome.match(line, head=True)
        assert time.perf_counter() - t0 < 0.05, line[:20]


@pytest.mark.parametrize("line", ["四平市人民政府 梨树县人民政府", "梨树县人民政府 梨树经济开发区管委会",
                                  "某某镇人民政府 | 某某乡人民政府 | 某某开发区管委会 | 县司法局"])
def test_issuers_and_signatures_are_no_bars(line):
    assert chrome.match(line, head=False) is None
