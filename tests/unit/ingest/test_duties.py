"""Responsibilities in every common form (rag/ingest/duties.py), each on a fixture's wording;
unit splitting; notes that point back into the text."""

import pytest

from rag.ingest.chunk import OutlineChunker
from rag.ingest.clean import clean_document
from rag.ingest.duties import find_deadlines, find_duties, parse_note
from rag.ingest.outline import parse_outline


def duties_of(raw: str):
    text = clean_document(raw).text
    found = find_duties(text, 0, len(text), [s.start for s in parse_outline(text)])
    for d in found:
        assert text[d.start:d.end] == d.note
    return text, found


def one(raw: str, contains: str):
    _, found = duties_of(raw)
    hits = [d for d in found if contains in d.measure]
    assert hits, (contains, [(d.note, d.measure) for d in found])
    return hits[0]


# --- parenthesised notes: today's form stays exactly as it was ----------------------------

@pytest.mark.parametrize("body, lead, support", [
    ("区发改局、区市场监管局牵头,各有关部门配合", ["区发改局", "区市场监管局"], ["各有关部门"]),
    ("区机构编制和人事管理领导小组办公室牵头,各有关部门负责", ["区机构编制和人事管理领导小组办公室"], ["各有关部门"]),
    ("区环保和环卫管理局牵头,发改局、组织部、财政局等有关部门配合", ["区环保和环卫管理局"], ["发改局", "组织部", "财政局"]),
    ("县司法局负责", ["县司法局"], []),
])
def test_todays_parenthesised_notes(body, lead, support):
    assert parse_note(body) == (lead, support)


@pytest.mark.parametrize("body", ["设在街道司法所", "以下简称《纲要》", "2021—2025年", "一"])
def test_brackets_that_are_no_notes(body):
    assert parse_note(body) is None


@pytest.mark.parametrize("body, lead, support", [
    # a04: 及 and 和 between units, never inside one
    ("州发展改革委、州市场监管局牵头,州财政局及各县市人民政府配合", ["州发展改革委", "州市场监管局"], ["州财政局", "各县市人民政府"]),
    ("州司法局牵头,州公安局、州自然资源局、州生态环境局和州交通运输局配合",
     ["州司法局"], ["州公安局", "州自然资源局", "州生态环境局", "州交通运输局"]),
    ("县住房和城乡建设局牵头,县自然资源和规划局和县生态环境局配合", ["县住房和城乡建设局"], ["县自然资源和规划局", "县生态环境局"]),
    # a16: several leads 按职责分工负责, 〔〕 inside
    ("省市场监管局、省应急厅、省生态环境厅、省自然资源厅按职责分工负责", ["省市场监管局", "省应急厅", "省生态环境厅", "省自然资源厅"], []),
    ("省委编办、省司法厅牵头,各市〔州〕人民政府负责", ["省委编办", "省司法厅"], ["各市〔州〕人民政府"]),
    # a18: X负责,Y落实
    ("接诉即办工作专班负责,各社区居委会落实", ["接诉即办工作专班"], ["各社区居委会"]),
    # a14: a labelled note in round brackets, 责任单位 only → lead
    ("责任单位:市编办,各县区人民政府", ["市编办", "各县区人民政府"], []),
])
def test_parenthesised_notes_in_more_forms(body, lead, support):
    assert parse_note(body) == (lead, support)


def test_square_bracket_note_with_brackets_inside():
    d = one("1.深化简政放权。全面实行行政许可事项清单管理。[牵头单位:州政务服务中心;责任单位:州直有关部门,各县(市)人民政府]",
            "深化简政放权")
    assert (d.lead, d.support) == (["州政务服务中心"], ["州直有关部门", "各县(市)人民政府"])
    assert d.note.startswith("[牵头单位") and d.note.endswith("]")


# --- labelled lines -------------------------------------------------------------------------

def test_labelled_lines_after_the_measure():
    raw = ("(一)依法全面履行政府职能\n1.动态管理权责清单。每年对县直部门权责清单集中梳理一次。\n牵头单位:县委编办\n责任单位:县直各有关单位\n\n"
           "2.规范乡镇履职事项。编制乡镇履行职责事项清单。\n牵头单位:县政府办\n责任单位:县委编办、县司法局等部门\n参与单位:各乡镇(街道)\n"
           "6.规范涉企行政检查。严格执行涉企检查计划备案制度。\n牵头单位:县市场监管局\n责任单位:县住房和城乡建设局、县应急管理局和县生态环境分局")
    _, found = duties_of(raw)
    got = {d.measure.split("。")[0]: (d.lead, d.support) for d in found}
    assert got["1.动态管理权责清单"] == (["县委编办"], ["县直各有关单位"])
    assert got["2.规范乡镇履职事项"] == (["县政府办"], ["县委编办", "县司法局", "各乡镇(街道)"])
    assert got["6.规范涉企行政检查"] == (["县市场监管局"], ["县住房和城乡建设局", "县应急管理局", "县生态环境分局"])


def test_labels_on_one_line_and_only_responsible_units():
    d = one("(一)深化行政审批制度改革。2018年9月底前完成县级审批事项目录的动态调整。\n牵头单位:县编委办;责任单位:县政务服务中心、县政府法制办",
            "深化行政审批制度改革")
    assert (d.lead, d.support) == (["县编委办"], ["县政务服务中心", "县政府法制办"])
    d = one("(二)营造法治化营商环境。开展涉企违规收费专项治理。\n责任单位:县发展改革委、县工信局、县财政局,各乡镇人民政府按职责分工分别负责",
            "营造法治化营商环境")
    assert (d.lead, d.support) == (["县发展改革委", "县工信局", "县财政局", "各乡镇人民政府"], [])


def test_department_labels_of_a_street_office():
    d = one("1.街道党工委每半年专题研究1次法治建设工作。\n牵头部门:党群工作办公室\n配合部门:综合保障办公室、街道司法所", "专题研究")
    assert (d.lead, d.support) == (["党群工作办公室"], ["综合保障办公室", "街道司法所"])


# --- tables ---------------------------------------------------------------------------------

TAB_TABLE = ("一、年度重点任务\n序号\t工作任务\t牵头单位\t责任单位\t完成时限\n"
             "1\t召开区政府常务会议专题研究法治政府建设工作不少于2次\t区政府办公室\t区司法局\t2023年12月底前\n"
             "4\t全面推行行政执法三项制度,执法案卷评查合格率达到95%以上\t区司法局\t区市场监管局;区生态环境局;区交通运输委\t2023年11月底前\n"
             "5\t推进“综合查一次”联合执法\t区市场监管局\t区应急局、区城市管理局等部门\t持续推进\n")


def test_tab_table_rows():
    _, found = duties_of(TAB_TABLE)
    rows = {d.measure[:5]: d for d in found}
    assert (rows["召开区政府"].lead, rows["召开区政府"].support) == (["区政府办公室"], ["区司法局"])
    assert rows["召开区政府"].deadlines == ["2023年12月底前"]
    assert rows["全面推行行"].support == ["区市场监管局", "区生态环境局", "区交通运输委"]
    assert rows["全面推行行"].targets and rows["推进“综合"].support == ["区应急局", "区城市管理局"]


def test_one_cell_per_line_table_with_spaces_between_units():
    raw = ("一、工作任务清单\n序号 |\n工作任务 |\n牵头\n单位 |\n责任单位 |\n完成时限 |\n"
           "1 |\n县政府常务会议年内安排会前学法不少于4次 |\n县政府办 县司法局 |\n县直各单位 |\n2024年12月底前 |\n"
           "2 |\n深化政务公开,政策解读比例达到100% |\n县政府办 |\n县数据资源局及县政府各部门 |\n2024年12月底前 |")
    _, found = duties_of(raw)
    assert [(d.lead, d.support) for d in found] == [
        (["县政府办", "县司法局"], ["县直各单位"]), (["县政府办"], ["县数据资源局", "县政府各部门"])]


def test_table_with_only_a_responsible_column_leads_with_it():
    raw = ("一、重点任务\n序号\t重点任务\t责任单位\t完成时限\n1\t开展行政规范性文件清理\t县司法局、县政府办\t2024年6月底前\n"
           "2\t推行包容审慎监管\t县市场监管局 县商务局\t2024年12月底前\n")
    _, found = duties_of(raw)
    assert [(d.lead, d.support, d.deadlines) for d in found] == [
        (["县司法局", "县政府办"], [], ["2024年6月底前"]), (["县市场监管局", "县商务局"], [], ["2024年12月底前"])]


def test_table_rows_keep_their_duties_through_the_chunker():
    text = clean_document(TAB_TABLE * 3).text
    chunks = OutlineChunker(200, 40)("d", text)
    assert sum(len(c.duties) for c in chunks) == len(find_duties(text)) == 9
    for c in chunks:
        for d in c.duties:
            assert c.start <= d.measure_start and d.end <= c.end


# --- prose ----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, contains, lead, support", [
    ("1.深化“放管服”改革。镇街便民服务中心可办事项达到500项以上。此项工作由市政务服务办牵头,各镇街和市级有关部门配合。",
     "深化“放管服”改革", ["市政务服务办"], ["各镇街", "市级有关部门"]),
    ("2.优化国际贸易营商环境。2022年12月底前建成涉外法律服务中心。由市商务局、市司法局牵头,市市场监管局、义乌海关配合实施。",
     "优化国际贸易营商环境", ["市商务局", "市司法局"], ["市市场监管局", "义乌海关"]),
    ("3.加强市场主体信用监管。推行信用分级分类监管。市市场监管局负责,市发改局、市综合执法局等部门按职责落实。",
     "加强市场主体信用监管", ["市市场监管局"], ["市发改局", "市综合执法局"]),
    ("5.推进重大行政决策规范化。决策后评估工作每年至少开展2项。市政府办公室负责组织实施,市司法局做好合法性审查。",
     "推进重大行政决策规范化", ["市政府办公室"], ["市司法局"]),
    ("6.深化行政执法改革。由市综合执法局牵头,市委编办和市司法局配合,各镇人民政府、街道办事处负责具体落实。",
     "深化行政执法改革", ["市综合执法局"], ["市委编办", "市司法局", "各镇人民政府", "街道办事处"]),
    ("7.推进执法监管数字化。推动执法事项网上办理率达到90%以上。市司法局、市大数据发展中心负责。",
     "推进执法监管数字化", ["市司法局", "市大数据发展中心"], []),
    ("(二)提升执法规范化水平。由东城司法所牵头,街道党政办、综合执法队配合,每季度开展一次执法案卷自查。",
     "每季度开展一次执法案卷自查", ["东城司法所"], ["街道党政办", "综合执法队"]),
    ("对评议中指出的问题,我牵头制定整改清单,明确由镇司法所负责、镇党政办配合,推动村级法律顾问每月到村坐班。",
     "推动村级法律顾问每月到村坐班", ["镇司法所"], ["镇党政办"]),
])
def test_prose_duties(raw, contains, lead, support):
    d = one(raw, contains)
    assert (d.lead, d.support) == (lead, support)


def test_several_prose_duties_in_one_answer():
    raw = ("答:《实施方案》对每项任务都明确了牵头单位和责任单位。例如,“推行政务服务事项标准化”由县政务服务监督管理局牵头,"
           "县直各部门配合;“健全行政执法协调监督工作体系”由县司法局牵头,县直各行政执法部门和各乡镇人民政府负责;"
           "“开展重大行政决策事项目录管理”由县政府办公室负责,每年3月底前向社会公布年度目录。")
    _, found = duties_of(raw)
    assert [(d.lead, d.support) for d in found] == [
        (["县政务服务监督管理局"], ["县直各部门"]), (["县司法局"], ["县直各行政执法部门", "各乡镇人民政府"]), (["县政府办公室"], [])]
    assert "开展重大行政决策事项目录管理" in found[2].measure and "推行政务服务事项标准化" not in found[2].measure


@pytest.mark.parametrize("sentence", [
    "县委全面依法治县委员会办公室负责统筹协调和督促检查,各乡镇各部门主要负责人切实履行第一责任人职责。",
    "街道法治建设领导小组办公室(设在街道司法所)负责日常统筹,每季度通报工作进展。",
    "2016年12月底前,各级政府要建立由党政主要负责人负责的推进法治政府建设工作领导协调机制。",
    "需要增加参与部门的,由牵头部门提出并商有关部门确定。",
    "明确各项举措牵头单位、责任单位,实行清单化管理。",
])
def test_prose_that_assigns_nothing(sentence):
    assert duties_of(sentence)[1] == []


def test_deadlines_with_a_year_or_a_recurring_one():
    assert find_deadlines("在2023年3月底前完成,每年3月底前公布,今年6月底前制定,到2020年基本建成") == [
        "2023年3月底前", "每年3月底前", "今年6月底前", "到2020年"]


def test_a_documents_own_rule_that_the_first_listed_unit_leads():
    text = ("(注:各项任务所列责任单位中,排在第一位的为牵头单位,其余为配合单位。)\n"
            "1.深入学习贯彻习近平法治思想。(责任单位:县司法局、县政府办)\n"
            "2.健全府院联动机制。(县人民法院牵头,县司法局配合)\n")
    got = [(d.lead, d.support) for d in find_duties(text)]
    assert got == [(["县司法局"], ["县政府办"]), (["县人民法院"], ["县司法局"])]
    # without that rule, a bare list of responsible units all lead
    assert [(d.lead, d.support) for d in find_duties(text.split("\n", 1)[1])][0] == (["县司法局", "县政府办"], [])


def test_a_table_row_marks_its_lead_unit_and_a_group_row_keeps_the_header():
    text = ("序号 | 工作任务 | 责任单位 | 完成时限\n一、深入推进政府职能转变\n"
            "1 | 动态调整县级权责清单 | 县委编办(牵头)、县司法局、各乡镇人民政府 | 2024年6月30日前\n")
    (d,) = find_duties(text)
    assert d.lead == ["县委编办"] and d.support == ["县司法局", "各乡镇人民政府"]
    assert d.measure == "动态调整县级权责清单" and d.deadlines == ["2024年6月30日前"]


def test_a_matrix_of_units_marked_lead_and_support():
    text = ("序号 | 创建任务 | 市委依法治市办 | 市司法局 | 市政府办公室 | 完成时限\n"
            "1 | 落实党政主要负责人述法 | ★ | ○ | | 2024年9月底前\n"
            "2 | 动态调整权责清单 | | ○ | ★ | 2024年8月底前\n")
    got = [(d.measure, d.lead, d.support, d.deadlines) for d in find_duties(text)]
    assert got == [("落实党政主要负责人述法", ["市委依法治市办"], ["市司法局"], ["2024年9月底前"]),
                   ("动态调整权责清单", ["市政府办公室"], ["市司法局"], ["2024年8月底前"])]


def test_tasks_grouped_under_their_lead_unit():
    text = ("县司法局:\n1.组织会前学法不少于6次。(县委组织部、县人力资源社会保障局配合)\n2.开展行政执法案卷评查。\n"
            "县政府办公室、县司法局:\n1.编制并公布重大行政决策事项目录。(县直各部门配合)\n")
    got = [(d.lead, d.support) for d in find_duties(text)]
    assert got == [(["县司法局"], ["县委组织部", "县人力资源社会保障局"]), (["县司法局"], []),
                   (["县政府办公室", "县司法局"], ["县直各部门"])]
