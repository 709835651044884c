"""Metadata that reads the page (rag/ingest/meta): header blocks, titles, types, periods,
issuers, dates, places; and DocMeta's round trip through the index's JSON."""

import json

import pytest

from rag.ingest.clean import clean_document
from rag.ingest.meta import extract_meta
from rag.ingest.meta.header import read_header
from rag.ingest.meta.place import find_places
from rag.ingest.meta.title import unwrap
from rag.records import UNKNOWN, DocMeta

BODY = "为加快建设法治政府,结合我县实际,制定本方案。\n一、总体要求\n到2025年,全县政府行为全面纳入法治轨道。\n二、主要任务\n"


def meta_of(raw: str, hints: dict | None = None) -> DocMeta:
    c = clean_document(raw)
    return extract_meta(c.text, c.normalized, c.header, hints or {})


# --- header blocks -------------------------------------------------------------------------

def test_header_in_cells_brackets_pairs_and_bullets():
    cells = read_header(["索 引 号 | 1134/2024-00012 | 主题分类 | 政府法制 |", "有效性 | 有效 |||",
                         "成文日期 | 2024-03-20 | 发布日期 | 2024-03-22 |", "标 题 | 某县关于印发X的通知 |"])
    assert cells.fields == {"index_no": "1134/2024-00012", "topic": "政府法制", "date": "2024-03-20",
                            "publish_date": "2024-03-22", "title": "某县关于印发X的通知"}
    assert cells.lines == {0, 1, 2, 3}
    brackets = read_header(["[ 索引号 ] 1150/2023-00127", "[ 发文字号 ] 万州府办发〔2023〕21号", "[ 体裁分类 ] 通知"])
    assert brackets.fields == {"index_no": "1150/2023-00127", "doc_number": "万州府办发〔2023〕21号"}
    pairs = read_header(["发布机构:上海市嘉定区人民政府 发布日期:2022-03-30"])
    assert pairs.fields == {"org": "上海市嘉定区人民政府", "publish_date": "2022-03-30"}


def test_bullet_labels_take_the_indented_next_line_and_empty_ones_take_nothing():
    raw = ["• 索引号:", "", "1137/2018-00021", "• 来源:", "", "• 发文机构:", "", "寿光市人民政府", "• 发文字号:",
           "", "• 内容概述:", "", "寿光市2017年法治政府建设工作报告"]
    indents = [2, 0, 4, 2, 0, 2, 0, 4, 2, 0, 2, 0, 0]
    h = read_header(raw, indents)
    assert h.fields == {"index_no": "1137/2018-00021", "org": "寿光市人民政府"}
    assert 12 not in h.lines  # the title after an empty 内容概述 stays in the text


def test_a_bare_publish_line_is_no_header_table():
    assert read_header(["发布日期:2016年08月22日来源:利通区政府办作者:"]).fields == {}


# --- titles --------------------------------------------------------------------------------

@pytest.mark.parametrize("wrapper, title", [
    ("天津市静海区人民政府关于印发静海区法治政府建设实施方案(2021—2025年)的通知", "静海区法治政府建设实施方案(2021—2025年)"),
    ("中共岳阳县委 岳阳县人民政府印发《岳阳县法治政府建设实施方案(2021—2025年)》的通知", "岳阳县法治政府建设实施方案(2021—2025年)"),
    ("关于公开征求《黔南州法治政府建设规划(2021—2025年)(征求意见稿)》意见的公告", "黔南州法治政府建设规划(2021—2025年)(征求意见稿)"),
    ("陕法委发〔2021〕10号《中共陕西省委全面依法治省委员会关于印发〈陕西省法治政府建设实施方案(2021-2025年)〉的通知》",
     "陕西省法治政府建设实施方案(2021-2025年)"),
])
def test_notices_unwrap_to_the_document_they_issue(wrapper, title):
    assert unwrap(wrapper) == (title, True)


def test_a_title_that_wraps_nothing_stays():
    assert unwrap("关于深入推进法治政府建设的实施意见") == ("关于深入推进法治政府建设的实施意见", False)


def test_two_line_title_is_joined_and_a_cited_plan_never_wins():
    m = meta_of("四平市人民政府关于\n2021年度法治政府建设情况的报告\n"
                "2021年,市政府认真落实《法治政府建设实施纲要(2021—2025年)》,启动《四平市法治政府建设实施方案(2021—2025年)》起草。\n"
                "一、主要举措\n二、存在的不足\n四平市人民政府\n2022年3月28日")
    assert m.title == "四平市人民政府关于2021年度法治政府建设情况的报告"
    assert (m.doc_type, m.period, m.issuer, m.date) == ("annual_report", "2021", "四平市人民政府", "2022-03-28")


def test_issuer_line_above_a_year_led_title_with_a_blank_line_between():
    m = meta_of("海口市人民政府\n\n2021年度法治政府建设情况报告\n\n"
                "2021年,海口市人民政府坚持以习近平法治思想为指导,全面推进依法行政,取得明显成效。\n一、主要工作\n"
                "海口市人民政府\n2022年3月20日")
    assert (m.title, m.issuer, m.period) == ("海口市人民政府2021年度法治政府建设情况报告", "海口市人民政府", "2021")


def test_a_column_name_above_the_title_is_not_the_title():
    m = meta_of("法治政府建设年度报告\n永川区2022年法治政府建设情况报告\n"
                "2022年,永川区坚持以习近平法治思想为指导,全面推进依法行政,取得明显成效。\n一、主要工作")
    assert m.title == "永川区2022年法治政府建设情况报告"


def test_county_media_centre_is_a_news_outlet():
    m = meta_of("泸县召开政府常务会议审议法治政府建设实施方案\n来源:泸县融媒体中心 作者:李明 发布时间:2022-03-18 09:12 阅读:356\n"
                "本网讯(记者 李明)3月17日,泸县县长主持召开县政府常务会议,审议《泸县法治政府建设实施方案(2021—2025年)》。")
    assert (m.doc_type, m.issuer, m.date, m.period) == ("news_report", "泸县融媒体中心", "2022-03-18", UNKNOWN)


def test_the_issuing_sentence_names_the_plan_in_full():
    m = meta_of("昌吉州法治政府建设实施方案(2021—2025年)\n各县市党委和人民政府,自治州各委、办、局:\n"
                "现将《昌吉回族自治州法治政府建设实施方案(2021—2025年)》印发给你们,请结合实际认真贯彻落实。\n" + BODY)
    assert m.title == "昌吉回族自治州法治政府建设实施方案(2021—2025年)"
    assert (m.doc_type, m.period) == ("implementation_plan", "2021-2025")


def test_page_title_when_the_text_has_none():
    m = meta_of("各镇人民政府、街道办事处,市政府各部门、直属各单位:\n《义乌市法治政府建设实施方案(2021—2025年)》已经市政府同意,现印发给你们。\n" + BODY,
                {"html_title": "义乌市人民政府办公室关于印发义乌市法治政府建设实施方案(2021—2025年)的通知_政策文件_义乌市人民政府"})
    assert m.title == "义乌市法治政府建设实施方案(2021—2025年)"


def test_draft_for_comment():
    m = meta_of("广西壮族自治区司法厅关于公开征求《广西壮族自治区法治政府建设实施方案(2021—2025年)(征求意见稿)》意见的公告\n"
                "为增强决策透明度,广泛听取社会各界意见,现全文公布,公开征求意见。\n广西壮族自治区司法厅\n2021年10月18日\n" + BODY)
    assert m.title == "广西壮族自治区法治政府建设实施方案(2021—2025年)" and m.draft is True
    assert (m.issuer, m.date, m.region, m.level) == ("广西壮族自治区司法厅", "2021-10-18", "广西壮族自治区", "province")
    assert meta_of("某县法治政府建设实施方案(2021—2025年)\n" + BODY).draft is False


# --- type and period -----------------------------------------------------------------------

@pytest.mark.parametrize("title, kind", [
    ("万州区2023年法治政府建设工作要点", "work_points"),
    ("西平县2023年度法治政府建设工作安排", "work_points"),
    ("关于深入推进法治政府建设的实施意见", "implementation_opinion"),
    ("江西省法治政府建设实施纲要(2016—2020年)", "plan"),
    ("2021年嘉定区法治政府建设工作情况", "annual_report"),
    ("阳朔县白沙镇2020年法治政府建设工作总结", "annual_report"),
    ("2023年度丹江镇党委副书记、镇长述法报告", "annual_report"),
    ("【政策解读】《互助土族自治县法治政府建设实施方案(2021—2025年)》政策解读", "policy_explainer"),
])
def test_doc_type_from_the_title(title, kind):
    assert meta_of(f"{title}\n{BODY}").doc_type == kind


def test_report_year_not_the_cited_plan_span():
    m = meta_of("2019年武清区法治政府建设情况报告\n2019年,武清区对照《法治政府建设实施纲要(2015-2020年)》,各项工作取得新进展。\n" + BODY)
    assert (m.doc_type, m.period) == ("annual_report", "2019")
    m = meta_of("关于深入推进法治政府建设的实施意见\n为认真贯彻《山西省法治政府建设实施方案(2021—2025年)》,结合我县实际,提出如下意见。\n" + BODY)
    assert m.period == UNKNOWN


def test_news_about_a_plan_and_a_plan_republished_in_a_newspaper():
    news = meta_of("我市印发法治政府建设实施方案\n明确未来五年“施工图”\n□ 三峡日报全媒记者 陈思远\n"
                   "本报讯 近日,市委、市政府印发《宜昌市法治政府建设实施方案(2021—2025年)》,对今后五年作出部署。\n" + BODY)
    assert (news.doc_type, news.period, news.issuer) == ("news_report", UNKNOWN, "三峡日报")
    assert news.title == "我市印发法治政府建设实施方案 明确未来五年“施工图”"
    paper = meta_of("中共四川省委 四川省人民政府印发\n四川省法治政府建设实施方案(2021—2025年)\n本报讯\n"
                    "近日,省委、省政府印发了《四川省法治政府建设实施方案(2021—2025年)》,要求结合实际贯彻落实。\n"
                    "《四川省法治政府建设实施方案(2021—2025年)》全文如下。\n" + BODY)
    assert (paper.doc_type, paper.issuer) == ("implementation_plan", "中共四川省委、四川省人民政府")


# --- issuer and dates ----------------------------------------------------------------------

def test_joint_signature_and_a_stale_clock_that_is_no_date():
    m = meta_of("今天是:2020年3月2日 星期一 农历二月初九\n某县法治政府建设实施方案(2021—2025年)\n"
                "文章来源:县司法局 更新时间:2020/03/27 10:41:26\n" + BODY + "中共某县委\n某县人民政府\n2020年3月20日")
    assert (m.issuer, m.date, m.publish_date) == ("中共某县委、某县人民政府", "2020-03-20", "2020-03-27")


def test_signed_article_and_speaker_of_a_report():
    art = meta_of("以高水平法治政府建设护航县域高质量发展\n□ 中共固始县委常委、常务副县长 张立新\n"
                  "法治是最好的营商环境,推进法治政府建设不是一道选做题,而是必答题。\n(作者系中共固始县委常委、常务副县长)")
    assert (art.doc_type, art.issuer) == ("article", "中共固始县委常委、常务副县长 张立新")
    rep = meta_of("2023年度丹江镇党委副书记、镇长述法报告\n按照县委依法治县办的安排,现将本人履行推进法治建设第一责任人职责情况报告如下。\n"
                  "一、履职情况\n述法人:丹江镇党委副书记、镇长 吴世龙\n2024年1月10日")
    assert (rep.issuer, rep.date) == ("丹江镇党委副书记、镇长 吴世龙", "2024-01-10")


def test_header_fields_become_metadata():
    raw = ("[ 索引号 ] 11500101008630000F/2023-00127\n[ 发文字号 ] 万州府办发〔2023〕21号\n[ 主题分类 ] 司法\n"
           "[ 成文日期 ] 2023-03-14\n[ 发布日期 ] 2023-03-17\n万州区2023年法治政府建设工作要点\n" + BODY)
    m = meta_of(raw)
    assert (m.index_no, m.doc_number, m.topic, m.date, m.publish_date) == (
        "11500101008630000F/2023-00127", "万州府办发〔2023〕21号", "司法", "2023-03-14", "2023-03-17")
    assert "索引号" not in clean_document(raw).text


# --- place ---------------------------------------------------------------------------------

def test_places_in_organisation_names():
    assert [(p.name, p.level) for p in find_places("北京市密云区人民政府鼓楼街道办事处")][1:] == [
        ("密云区", "county"), ("鼓楼街道", "township")]
    assert [p.name for p in find_places("龙岩市新罗区人民政府东城街道办事处")][-2:] == ["新罗区", "东城街道"]
    assert [p.name for p in find_places("中共固始县委常委、常务副县长 张立新")] == ["固始县"]
    assert find_places("以高水平法治政府建设护航县域高质量发展") == []
    assert find_places("我市印发法治政府建设实施方案") == []


def test_township_document_with_its_county():
    m = meta_of("鼓楼街道2024年法治政府建设工作计划\n为深入推进基层法治建设,根据《密云区2024年法治政府建设工作要点》,制定本计划。\n"
                "一、工作目标\n二、重点工作\n北京市密云区人民政府鼓楼街道办事处\n2024年2月26日")
    assert (m.region, m.level, m.county, m.province, m.city) == ("鼓楼街道", "township", "密云区", "北京市", "北京市")
    assert (m.doc_type, m.period, m.issuer) == ("work_points", "2024", "北京市密云区人民政府鼓楼街道办事处")


def test_township_county_from_the_text():
    m = meta_of("2023年度丹江镇党委副书记、镇长述法报告\n按照雷山县委依法治县办的安排,现将本人履行推进法治建设第一责任人职责情况报告如下。\n"
                "一、履职情况\n我主动接受镇人大的监督,向镇人民代表大会报告依法行政情况,全年办复率100%。")
    assert (m.region, m.level, m.county) == ("丹江镇", "township", "雷山县")


def test_the_place_is_the_documents_own_not_one_it_mentions():
    m = meta_of("新疆维吾尔自治区人民政府关于2018年法治政府建设工作的报告\n"
                "2018年,自治区人民政府认真落实纲要,在喀什地区、昌吉回族自治州等地开展试点,总结经验后推广。\n" + BODY)
    assert (m.region, m.level, m.province, m.city) == ("新疆维吾尔自治区", "province", "新疆维吾尔自治区", UNKNOWN)


# --- DocMeta in the index ------------------------------------------------------------------

def test_docmeta_round_trips_and_old_json_still_loads():
    m = DocMeta(title="鼓楼街道2024年法治政府建设工作计划", region="鼓楼街道", level="township", county="密云区",
                draft=True, publish_date="2024-02-29", index_no="1111/2024-00031", topic="政务公开\\其他")
    assert DocMeta(**json.loads(json.dumps(m.to_dict(), ensure_ascii=False))) == m
    old = {"title": "t", "issuer": "i", "region": "利通区", "level": "county", "province": "宁夏回族自治区", "city": "吴忠市",
           "period": "2016-2020", "doc_type": "implementation_plan", "date": "2016-08-19", "doc_number": "unknown",
           "contact": "unknown"}
    loaded = DocMeta(**old)
    assert (loaded.county, loaded.draft, loaded.publish_date, loaded.index_no, loaded.topic) == (
        UNKNOWN, False, UNKNOWN, UNKNOWN, UNKNOWN)


def test_store_keeps_the_new_fields(tmp_path):
    from rag.index.store import ChunkStore
    from rag.records import Document

    meta = DocMeta(title="稠城街道2021年度法治政府建设工作报告", region="稠城街道", level="township", county="义乌市",
                   draft=False, publish_date="2022-02-11", index_no="x/1", topic="综合政务")
    store = ChunkStore(tmp_path / "s.sqlite", readonly=False)
    store.put_document(Document(doc_id="d", path="d.txt", text="正文", meta=meta), [], [], [], [], [])
    assert store.document("d").meta == meta
    assert store.documents()[0].meta == meta
    store.close()


def test_a_township_document_sits_under_its_county_in_the_catalog():
    from rag.index.catalog import doc_chain

    meta = DocMeta(region="丹江镇", level="township", county="雷山县", city="黔东南苗族侗族自治州", province="贵州省")
    assert doc_chain(meta) == ("丹江镇", "雷山县", "黔东南苗族侗族自治州", "贵州省")
    assert doc_chain(DocMeta(region="利通区")) == ("利通区", "吴忠市", "宁夏回族自治区")
    assert doc_chain(DocMeta()) == ()


def test_a_signature_dated_in_chinese_numerals_is_read():
    from rag.ingest.meta.common import arabic_dates

    assert arabic_dates("方城县杨集镇人民政府\n二〇二四年一月十八日") == "方城县杨集镇人民政府\n2024年1月18日"
    assert arabic_dates("二〇二三年十二月三十一日、二○二二年十月十日") == "2023年12月31日、2022年10月10日"
    assert arabic_dates("二〇二四年十三月一日") == "二〇二四年十三月一日"  # no such month: left as written
    meta = extract_meta("2023年法治政府工作报告\n2023年,杨集镇扎实推进法治建设。现报告如下:\n一、工作开展情况\n"
                        "全年开展普法活动12场。\n方城县杨集镇人民政府\n二〇二四年一月十八日")
    assert meta.issuer == "方城县杨集镇人民政府" and meta.date == "2024-01-18"


def test_a_bulleted_line_of_two_header_pairs_and_an_explainers_interpreter():
    h = read_header(["• 索 引 号:K13001/2024-00038        发文机关:弋阳县人民政府办公室",
                     "• 文    号:弋府办字〔2024〕12号      文件有效性:有效", "正文开始,县政府同意。"], head_end=2)
    assert h.fields["index_no"] == "K13001/2024-00038" and h.fields["org"] == "弋阳县人民政府办公室"
    assert h.fields["doc_number"] == "弋府办字〔2024〕12号"
    explainer = ("区司法局负责人就《高陵区2024年法治政府建设工作要点》答记者问\n解读机关 | 高陵区司法局 | 发布日期 | 2024-04-03\n"
                 "近日,西安市高陵区人民政府办公室印发《高陵区2024年法治政府建设工作要点》。记者采访了区司法局负责人。\n"
                 "记者:请介绍一下出台的背景。\n区司法局负责人:为贯彻落实上级部署,结合实际制定。")
    cleaned = clean_document(explainer)
    meta = extract_meta(cleaned.text, cleaned.normalized, cleaned.header)
    assert meta.doc_type == "policy_explainer" and meta.issuer == "高陵区司法局"


def test_a_quiz_in_a_news_title_is_no_explainer():
    from rag.ingest.meta.kind import EXPLAINER_RE

    assert EXPLAINER_RE.search("陇西县行政复议工作政策问答") and not EXPLAINER_RE.search("我县开展法治知识问答活动")


def test_a_meeting_record_is_a_notice_dated_by_its_print_line():
    text = ("金山区人民政府第52次常务会议纪要(摘要)\n2024年3月26日,区长主持召开区政府第52次常务会议。\n"
            "一、会议听取了区司法局关于2023年度法治政府建设情况的汇报。\n会议要求,各部门要落实年度任务。\n"
            "上海市金山区人民政府办公室 2024年3月27日印发")
    meta = extract_meta(text)
    assert meta.doc_type == "notice" and meta.issuer == "上海市金山区人民政府办公室" and meta.date == "2024-03-27"
