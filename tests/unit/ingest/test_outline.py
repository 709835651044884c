"""Outline parsing, chunking, metadata and responsibility notes on the five real documents."""

import pytest
from support.fakes import CORPUS

from rag.ingest.chunk import OutlineChunker
from rag.ingest.document import load_document, process
from rag.ingest.duties import find_deadlines, find_targets, parse_note
from rag.ingest.outline import parse_outline
from rag.records import PATH_SEP

CHUNKER = OutlineChunker(360, 40)


@pytest.fixture(scope="module")
def docs():
    out = {}
    for path in sorted(CORPUS.iterdir()):
        doc = load_document(path, CORPUS)
        out[path.name[:3]] = process(doc, CHUNKER)
    return out


def paths(processed) -> set[str]:
    return {PATH_SEP.join(s.path) for s in processed.sections}


def test_sections_partition_the_text(docs):
    for p in docs.values():
        text = p.document.text
        secs = p.sections
        assert secs[0].start == 0 and secs[-1].end == len(text)
        for a, b in zip(secs, secs[1:]):
            assert a.end == b.start


def test_every_chunk_points_back_into_its_document(docs):
    for p in docs.values():
        text = p.document.text
        for c in p.chunks:
            assert text[c.start:c.end] == c.text
            assert 0 < len(c.text) <= CHUNKER.max_chars


def test_no_text_is_lost(docs):
    for p in docs.values():
        text = p.document.text
        covered = [False] * len(text)
        for c in p.chunks:
            covered[c.start:c.end] = [True] * (c.end - c.start)
        lost = "".join(ch for ch, ok in zip(text, covered) if not ok and not ch.isspace())
        assert not lost


def test_no_heading_only_chunk(docs):
    for p in docs.values():
        heads = {s.heading for s in p.sections if s.heading}
        for c in p.chunks:
            assert c.text.strip() not in heads, c.text


def test_outline_of_the_district_plan(docs):
    p = docs["002"]
    assert ("二、主要目标任务、具体措施分工和效果指标 › (一)依法全面履行政府职能 › "
            "1.深化行政审批制度改革 › 5)") in paths(p)
    assert "二、主要目标任务、具体措施分工和效果指标 › (一)依法全面履行政府职能 › 效果指标 › 6)" in paths(p)
    chunk = next(c for c in p.chunks if "坚决整治“红顶中介”" in c.text)
    assert chunk.section == "二、主要目标任务、具体措施分工和效果指标 › (一)依法全面履行政府职能 › 1.深化行政审批制度改革 › 5)"


def test_outline_of_the_provincial_plan_with_four_levels(docs):
    p = docs["003"]
    chunk = next(c for c in p.chunks if "建设“两法衔接”平台" in c.text)
    assert chunk.section_path[-1] == "(3)"
    assert chunk.section_path[-2] == "9.深化行政执法体制改革"
    assert chunk.section_path[0] == "二、主要任务和重点举措"


def test_inline_headings_and_lead_sentences_of_the_article(docs):
    ps = paths(docs["001"])
    assert "一、全力建设服务型法治政府 › 强化组织领导" in ps
    assert "二、全力建设善治型法治政府 › 推进地方立法,夯实善治之基" in ps
    assert "三、全力建设阳光型法治政府 › 落实政务公开" in ps


def test_enumerations_become_items(docs):
    ps = paths(docs["004"])
    for n in "一二三四":
        assert f"一、法治政府建设工作开展情况 › (三)持续推进放管服改革 › {n}是" in ps
    chunk = next(c for c in docs["004"].chunks if "33个特色应用" in c.text)
    assert chunk.section_path[-1] == "一是"
    # the paragraph after an enumeration belongs to the enclosing section again
    tail = next(c for c in docs["004"].chunks if c.text.startswith("775") or "基本实现执法人员全覆盖" in c.text)
    assert tail.section_path[-1] != "三是"


def test_long_sections_are_split_with_their_path(docs):
    long_sections = [(p, s) for p in docs.values() for s in p.sections if s.end - s.start > 400]
    assert long_sections, "fixture sanity: some section is longer than the cap"
    for p, s in long_sections:
        pieces = [c for c in p.chunks if c.start < s.end and c.end > s.start]
        assert len(pieces) >= 2
        assert all(c.section_path == s.path or c.section_path[: len(s.path)] == s.path for c in pieces)


def test_tiny_sibling_items_are_merged_and_named_as_a_range(docs):
    merged = [c for c in docs["002"].chunks if c.section_path and "–" in c.section_path[-1]]
    assert merged
    assert any(c.section_path[-1] == "2)–5)" and "提案回复率达到100%" in c.text for c in merged)


def test_metadata_of_the_five_documents(docs):
    m = {k: p.document.meta for k, p in docs.items()}
    assert (m["000"].title, m["000"].doc_type, m["000"].region, m["000"].level, m["000"].province, m["000"].period) == (
        "宁夏回族自治区法治政府建设实施方案(2021—2025年)", "news_report", "宁夏回族自治区", "province", "宁夏回族自治区", "2021-2025")
    assert m["000"].issuer == "自治区党委办公厅、自治区人民政府办公厅"
    assert (m["001"].title, m["001"].doc_type, m["001"].region, m["001"].level, m["001"].province, m["001"].date) == (
        "全力建设服务型法治政府", "article", "萍乡市", "city", "江西省", "2023-12-06")
    assert m["001"].issuer == "熊运浪(江西省萍乡市委副书记、市长)"
    assert (m["002"].title, m["002"].doc_type, m["002"].region, m["002"].level, m["002"].city, m["002"].province) == (
        "利通区法治政府建设实施方案(2016—2020年)", "implementation_plan", "利通区", "county", "吴忠市", "宁夏回族自治区")
    assert (m["002"].period, m["002"].issuer, m["002"].date, m["002"].doc_number) == (
        "2016-2020", "吴忠市利通区政府办公室", "2016-08-19", "unknown")
    assert m["002"].contact.startswith("周国文") and "18095315505@163.com" in m["002"].contact
    assert (m["003"].doc_number, m["003"].issuer, m["003"].date, m["003"].period, m["003"].level) == (
        "陕法委发〔2021〕10号", "中共陕西省委全面依法治省委员会", "2021-11-27", "2021-2025", "province")
    assert m["003"].title == "陕西省法治政府建设实施方案(2021-2025年)"
    assert (m["004"].doc_type, m["004"].region, m["004"].level, m["004"].city, m["004"].province, m["004"].period) == (
        "annual_report", "五原县", "county", "巴彦淖尔市", "内蒙古自治区", "2022")
    assert m["004"].issuer == "五原县人民政府"


def test_metadata_degrades_to_unknown():
    from rag.ingest.meta import extract_meta

    for text in ("", "随便一段没有标题的文字。", "《》\n(\n〔〕号", "x" * 5000):
        meta = extract_meta(text)
        assert meta.title in ("unknown", "随便一段没有标题的文字。") or meta.title
        assert meta.doc_number == "unknown"


def test_responsibility_notes_of_the_district_plan(docs):
    duties = [d for c in docs["002"].chunks for d in c.duties]
    assert len(duties) >= 75
    text = docs["002"].document.text
    for d in duties:
        assert text[d.start:d.end] == d.note
    by_note = {d.note: d for d in duties}
    d = by_note["(区发改局、区市场监管局牵头,各有关部门配合)"]
    assert (d.lead, d.support, d.deadlines) == (["区发改局", "区市场监管局"], ["各有关部门"], ["2016年12月底前"])
    assert d.measure.startswith("5)全面清理规范行政审批中介服务")
    d = by_note["(区检察院牵头,区监察局、政府法制办、区法院、公安局利通分局、各有关部门配合)"]
    assert d.lead == ["区检察院"] and d.support == ["区监察局", "政府法制办", "区法院", "公安局利通分局", "各有关部门"]
    d = next(d for d in duties if d.note.startswith("(区发改局牵头,政务服务中心"))
    assert d.support[-1] == "建设交通运输局" and "政务服务中心" in d.support
    d = by_note["(政府法制办牵头、各有关部门配合)"]
    assert (d.lead, d.support) == (["政府法制办"], ["各有关部门"])
    d = next(d for d in duties if "推行电子营业执照" in d.measure)
    assert d.lead == ["区市场监管局"]


def test_parse_note_rejects_parentheses_that_are_not_notes():
    assert parse_note("征求意见稿") is None
    assert parse_note("2016-2020年") is None
    assert parse_note("一") is None
    assert parse_note("区司法局负责") == (["区司法局"], [])


def test_deadlines_and_targets():
    assert find_deadlines("2016年12月底前,完成编码;2022年年底前建成;到2025年基本建成") == [
        "2016年12月底前", "2022年年底前", "到2025年"]
    assert find_targets("公布率达到100%,比重不低于40%。") == ["公布率达到100%", "比重不低于40%"]


def test_outline_without_any_heading_is_one_preamble():
    secs = parse_outline("只有一段话,没有标题。")
    assert len(secs) == 1 and secs[0].path == ()


def test_split_text_interface_matches_the_chunks(docs):
    p = docs["003"]
    assert CHUNKER.split_text(p.document.text) == [c.text for c in p.chunks]
