"""Place scoping on a corpus of many places (the five documents and the fixture documents):
which place a question is about, whose document answers it, and the gate rules that read the
places (only_inside, mentioned_place_absent, year_outside) and the how-to rule."""

import re

import pytest

from rag.records import Answer


def cited_docs(answer: Answer) -> set[str]:
    return {c.doc_id.split("_")[0] for c in answer.citations}


def check_citations_point_into_sources(pipeline, answer: Answer) -> None:
    assert answer.citations
    for c in answer.citations:
        assert pipeline.index.document(c.doc_id).text[c.start:c.end] == c.text
    assert {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)} == {c.n for c in answer.citations}


def test_a_city_with_only_a_street_offices_report_is_not_answered_from_it(places_pipeline):
    # 东城街道's report (issued by 龙岩市新罗区人民政府东城街道办事处) is not 龙岩市's document
    a = places_pipeline.ask("龙岩市2022年办理了多少件行政处罚案件?")
    assert a.refused and a.refusal_rule == "only_inside" and "东城街道" in a.text
    b = places_pipeline.ask("新罗区东城街道2022年办理了多少件一般程序案件?")
    assert not b.refused and "41件" in b.text and cited_docs(b) == {"b01"}
    check_citations_point_into_sources(places_pipeline, b)


def test_a_province_framing_a_city_is_not_a_comparison(places_pipeline):
    a = places_pipeline.ask("萍乡在江西全省率先完成了哪项服务大厅建设?")
    assert not a.refused and "免证办理" in a.text
    assert not a.text.startswith("萍乡:") and cited_docs(a) == {"001"}  # one answer, from 萍乡's article


def test_a_place_only_mentioned_must_be_in_the_evidence(places_pipeline):
    # 南宫市 appears only in 威县's news item, which says nothing about its legal advisers' funds
    a = places_pipeline.ask("南宫市的法律顾问每年经费是多少?")
    assert a.refused and a.refusal_rule == "mentioned_place_absent" and "南宫市" in a.text
    b = places_pipeline.ask("南宫市交流了什么工作经验?")
    assert not b.refused and "府院联动" in b.text and cited_docs(b) == {"b08"}


def test_a_reports_figures_are_of_its_own_year(places_pipeline):
    a = places_pipeline.ask("东城街道2021年培育了多少名法律明白人?")
    assert a.refused and a.refusal_rule == "year_outside" and "2021" in a.text
    b = places_pipeline.ask("东城街道2022年培育了多少名法律明白人?")
    assert not b.refused and b.text.startswith("数字:140名")  # the count in 名, not "培训3期"


@pytest.mark.parametrize("question, answered", [
    ("社会组织怎么注册?", False),  # a citizen's errand the documents do not explain
    ("居住证怎么办理?", False),
    ("法律援助怎么申请?", True),  # h40's 政策问答: 向县法律援助中心申请
    ("宁夏打算怎么解决政府部门之间“信息孤岛”的问题?", True),  # what a place's plan intends
])
def test_how_to_questions(places_pipeline, question, answered):
    a = places_pipeline.ask(question)
    assert a.refused != answered, a.text
    assert answered or a.refusal_rule == "procedure_absent"


def test_a_who_question_naming_no_place_gets_each_places_office(places_pipeline):
    # which places' plans come first depends on the collection; each one is named with its office
    a = places_pipeline.ask("规范性文件清理由哪个部门牵头?")
    lines = a.text.splitlines()
    assert lines[0].startswith("据《") and "牵头单位:" in lines[1]
    assert lines[-1].startswith("另据《") and "牵头单位:" in lines[-1]
    assert len(cited_docs(a)) >= 2 and "002" in cited_docs(a)  # 利通区's plan among them
    check_citations_point_into_sources(places_pipeline, a)
    one = places_pipeline.ask("在利通区办营业执照找哪个部门?")  # a place named: its office only
    assert "另据" not in one.text and cited_docs(one) == {"002"}


def test_a_who_question_is_not_answered_with_an_unrelated_measures_office(places_pipeline):
    # 黔南州's draft plan has no measure on 行政复议体制改革; its 深化简政放权 measure is led by
    # 州政务服务中心, which must not be offered as the answer
    a = places_pipeline.ask("黔南州规划里深化行政复议体制改革由哪个部门牵头?")
    assert "州政务服务中心" not in a.text and not a.text.startswith("牵头单位")


def test_a_place_written_before_another_qualifies_it(places_pipeline):
    # "义乌稠城街道" is 稠城街道 (of 义乌市), not 义乌市's plan and 稠城街道 side by side
    a = places_pipeline.ask("新罗区东城街道和义乌稠城街道的法律顾问,一年分别审查(审核)了多少份合同协议?")
    assert "58份" in a.text and "83份" in a.text
    assert cited_docs(a) == {"b01", "b13"}
    check_citations_point_into_sources(places_pipeline, a)


def test_a_when_question_is_answered_with_a_deadline_not_a_plans_span(places_pipeline):
    a = places_pipeline.ask("对广西法治政府建设实施方案征求意见稿提意见,截止到什么时候?")
    assert a.text.startswith("时间:2021年11月17日前")  # not the 2025 of "(2021—2025年)" in the title
    # the lead-in "…通过以下方式提出意见:" is completed by its items, and only by them
    assert "电子邮件" in a.text and "信函" in a.text and "总体目标" not in a.text
    check_citations_point_into_sources(places_pipeline, a)


@pytest.mark.parametrize("question, fact", [
    ("东城街道的执法队去年办了多少件案子?", "41件"),  # 案子 = 案件; 去年 is no topic
    ("我在岳阳县开公司,同一类检查一年最多能来几次?", "不超过1次"),  # 公司 = 企业
])
def test_everyday_words_are_read_as_the_documents_words(places_pipeline, question, fact):
    a = places_pipeline.ask(question)
    assert not a.refused and fact in a.text, a.text


def test_a_follow_up_keeps_the_other_places_own_year_and_says_so(places_pipeline):
    # "东城街道呢?" after a 2023 question about 丹江镇: the year was only carried over, so 东城街道's
    # 2022 report answers, saying that it is not of 2023
    history = [("user", "雷山县丹江镇2023年培育了多少名“法律明白人”?"), ("assistant", "…")]
    a = places_pipeline.ask("东城街道呢?", history=history)
    assert not a.refused and "140名" in a.text and cited_docs(a) == {"b01"}
    assert "不涉及2023年" in a.text.splitlines()[0]
    check_citations_point_into_sources(places_pipeline, a)
    # a year the user asks for is still checked
    b = places_pipeline.ask("东城街道2023年呢?", history=history)
    assert b.refused and b.refusal_rule == "year_outside"


@pytest.mark.parametrize("question, rule", [
    ("黔南州规划里深化行政复议体制改革由哪个部门牵头?", "body_absent"),  # the 规划 has no such measure
    ("在嘉定办“一业一证”需要准备哪些材料?", "materials_absent"),  # 嘉定's report names no papers
    ("办营业执照要带什么材料?", "materials_absent"),
])
def test_who_and_which_papers_need_evidence_that_names_them(places_pipeline, question, rule):
    a = places_pipeline.ask(question)
    assert a.refused and a.refusal_rule == rule, a.text


def test_a_who_question_with_a_responsibility_note_is_answered(places_pipeline):
    a = places_pipeline.ask("黔南州规范规范性文件制定由哪个单位牵头?")
    assert not a.refused and "州司法局" in a.text and cited_docs(a) == {"a12"}


@pytest.mark.parametrize("question, drafter, doc", [
    ("《互助土族自治县法治政府建设实施方案(2021—2025年)》是由哪个单位起草的?", "起草单位:县司法局", "b09"),
    ("《2018年度延寿县法治政府建设实施方案》是哪个部门制定的?", "制定单位:县政府法制办", "a17"),
])
def test_who_drafted_a_document_is_not_who_issued_it(places_pipeline, question, drafter, doc):
    a = places_pipeline.ask(question)
    assert not a.refused and a.text.startswith(drafter) and cited_docs(a) == {doc}
    check_citations_point_into_sources(places_pipeline, a)
    b = places_pipeline.ask(question.replace("起草", "印发").replace("制定", "印发"))
    assert "起草单位" not in b.text and "制定单位" not in b.text and "印发单位" in b.text


def test_a_day_before_which_something_is_due_is_a_deadline_not_the_documents_date(places_pipeline):
    a = places_pipeline.ask("射阳县的示范创建自评报告要在哪天前报给市委依法治市办?")
    assert not a.refused and a.text.startswith("时间:2024年8月15日前") and cited_docs(a) == {"h03"}
    b = places_pipeline.ask("射阳县2024年法治政府建设工作要点是哪天印发的?")  # the document's own date
    assert not b.refused and "2024年3月15日" in b.text


def test_an_e_mail_address_is_not_answered_by_a_phone_number(places_pipeline):
    a = places_pipeline.ask("昆山市2024年法治政府建设工作要点的解读人电子邮箱是什么?")  # only a phone is given
    assert a.refused and a.refusal_rule == "metadata_absent" and "电子邮箱" in a.text
    b = places_pipeline.ask("我想通过邮件给广西的法治政府建设方案提意见,发到哪个邮箱?")
    assert not b.refused and "fzzfjs_yjzj@example.gov.cn" in b.text


def test_a_title_a_document_only_cites_is_not_that_document(places_pipeline):
    from rag.answer.refusal import _issued_in

    head = "为全面落实《中共延寿县委、延寿县人民政府关于印发<延寿县法治政府建设行动方案(2017-2020)>的通知》要求,制定本方案。"
    assert not _issued_in("延寿县法治政府建设行动方案(2017-2020)", head)
    assert _issued_in("X县实施方案", "关于印发《X县实施方案》的通知\n现将《X县实施方案》印发给你们")
    assert _issued_in("X县实施方案", "为贯彻落实《国家纲要》,结合实际,制定《X县实施方案》。")
    # a17 (延寿县's 2018 plan) cites the 2017-2020 行动方案 but is not it
    a = places_pipeline.ask("《延寿县法治政府建设行动方案(2017-2020)》的总体目标是什么?")
    assert a.refused and a.refusal_rule == "document_absent"
    b = places_pipeline.ask("《2018年度延寿县法治政府建设实施方案》的文号是多少?")
    assert not b.refused and "延政办综〔2018〕51号" in b.text


def test_the_final_version_of_a_draft_is_not_in_the_collection(places_pipeline):
    # a12 is 黔南州's 规划 as a comment-request draft (征求意见稿)
    a = places_pipeline.ask("《黔南布依族苗族自治州法治政府建设规划(2021—2025年)》最终是哪天正式印发的?")
    assert a.refused and a.refusal_rule == "final_absent" and "征求意见稿" in a.text
    b = places_pipeline.ask("黔南州规划征求意见稿的意见反馈截止到什么时候?")
    assert not b.refused and cited_docs(b) == {"a12"}


def test_a_span_of_time_is_not_a_count_and_a_ranking_needs_one(places_pipeline):
    from rag.answer.asked import unit_pattern

    count = re.compile(unit_pattern("件"))
    assert count.search("办理公证案件215件") and count.search("共3个")
    assert not count.search("全部结果在15个工作日内公示") and not count.search("用时3个月")
    # h11 (嘉善县司法局) names no notarial case count; h20 (蜀山区) no ranking
    a = places_pipeline.ask("嘉善县司法局2023年办理了多少件公证案件?")
    assert a.refused, a.text
    b = places_pipeline.ask("蜀山区2021年依法行政考核中排名第一的部门是哪个?")
    assert b.refused and b.refusal_rule == "rank_absent"


def test_a_count_in_起_is_not_the_reports_year(places_pipeline):
    a = places_pipeline.ask("攸县公安局2022年法制审核了多少起案件?")  # h19
    assert not a.refused and a.text.startswith("数字:3160起") and cited_docs(a) == {"h19"}


@pytest.mark.parametrize("question, text, found", [
    ("几个月内完成", "3个月内完成", True),  # a span asked as a span
    ("几个工作日办结", "5个工作日内办结", True),
    ("多少件", "在15个工作日内公示", False),  # a span is no count
    ("几个", "共3个", True),
])
def test_the_asked_unit_and_a_span_of_time(question, text, found):
    from rag.answer.asked import ASKED_UNIT_RE, unit_pattern

    assert bool(re.search(unit_pattern(ASKED_UNIT_RE.search(question).group(1)), text)) == found


def test_a_quoted_term_is_looked_for_in_the_named_places_documents(places_pipeline):
    # 陕西's plan builds the “两法衔接” platform; 宁夏's documents never name it, so 宁夏's other
    # platform (政务服务平台, 2023年底前) is not its answer — asked directly or as a follow-up
    a = places_pipeline.ask("陕西要求哪年前建成“两法衔接”平台?")
    assert not a.refused and "2023年年底前" in a.text and cited_docs(a) == {"003"}
    b = places_pipeline.ask("宁夏要求哪年前建成“两法衔接”平台?")
    assert b.refused and b.refusal_rule == "quoted_absent" and "“两法衔接”" in b.text
    c = places_pipeline.ask("那宁夏呢?", history=[("user", "陕西要求哪年前建成“两法衔接”平台?"), ("assistant", a.text)])
    assert c.refused and c.refusal_rule == "quoted_absent"


def test_a_count_must_count_what_was_asked(places_pipeline):
    # "全年办理行政处罚案件37宗,无一宗被复议纠错": no number of 行政复议案件
    a = places_pipeline.ask("永汉镇2021年办理了多少件行政复议案件?")
    assert a.refused and a.refusal_rule == "unit_absent" and "行政复议案件" in a.text
    b = places_pipeline.ask("永汉镇2021年办理了多少宗行政处罚案件?")
    assert not b.refused and b.text.startswith("数字:37宗")
    # of several counts in one sentence, the one whose clause says what is asked
    c = places_pipeline.ask("嘉善县2023年受理了多少件行政复议申请?")
    assert not c.refused and c.text.startswith("数字:196件") and cited_docs(c) == {"h11"}
    d = places_pipeline.ask("嘉善县2023年收到多少件行政复议申请?")
    assert not d.refused and d.text.startswith("数字:218件")
    check_citations_point_into_sources(places_pipeline, c)


def test_a_span_of_days_asked_is_no_counted_thing(places_pipeline):
    a = places_pipeline.ask("行政复议申请多少天内要作出决定?")  # no document gives such a span
    assert a.refused and a.refusal_rule == "unit_absent" and "以“天”计" in a.text and "内要作出决定" not in a.text


def test_fourth_family_asks(places_pipeline):
    # a count of 涉企案件 the report does not give (only all 46 一审案件)
    a = places_pipeline.ask("下陆区2023年行政诉讼一审案件中涉企案件有多少件?")
    assert a.refused and a.refusal_rule == "unit_absent" and "涉企案件" in a.text
    # "2023年向团镇…": no township called 年向团镇
    b = places_pipeline.ask("第一师阿拉尔市2023年向团镇下放了多少项执法事项?")
    assert not b.refused and b.text.startswith("数字:64项") and cited_docs(b) == {"h38"}
    # a person asked after a who-question: the 责任人 line, not the offices
    first = "青龙山镇2024年推进镇综合行政执法规范化的责任单位是哪个?"
    c = places_pipeline.ask("那责任人是谁?", history=[("user", first), ("assistant", places_pipeline.ask(first).text)])
    assert not c.refused and "赵志刚" in c.text
    # where to hand papers in: the sentence that names the place, not the page's questions
    d = places_pipeline.ask("我在武鸣区开了家小店,对处罚不服想申请行政复议,材料交到哪里?")
    assert not d.refused and "区政务服务中心一楼" in d.text and "?[" not in d.text
    check_citations_point_into_sources(places_pipeline, d)
    # the part after a semicolon keeps its sentence's subject (武鸣区's 调解和解结案41件)
    e = places_pipeline.ask("武鸣区和陇西县2023年行政复议调解和解结案各有多少件?")
    assert "41件" in e.text and "27件" in e.text
