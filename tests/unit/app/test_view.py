"""The view layer's pure helpers: personal data masked, deep links, the scope line, the tables."""

from __future__ import annotations

import re

import pytest

from rag.app import view
from rag.records import Answer, Citation, DocMeta, Document, Section

MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.mark.parametrize("text, masked", [
    ("联系电话:2121660  18095315505", "联系电话:2121660  180****5505"),
    ("手机 138-1234-5678 转", "手机 138-****-5678 转"),
    ("手机 139 1234 5678", "手机 139 **** 5678"),
    ("+86 13712345678", "+86 137****5678"),
    ("+8613712345678。", "+86137****5678。"),
    ("邮箱:18095315505@163.com", "邮箱:1**********@163.com"),
    ("zhang.san@example.com.cn", "z********@example.com.cn"),
])
def test_mobiles_and_mails_are_masked_keeping_the_length(text, masked):
    assert view.mask_personal(text) == masked
    assert len(view.mask_personal(text)) == len(text)
    assert not MOBILE.search(view.mask_personal(text))


@pytest.mark.parametrize("text", [
    "联系人:周国文 联系电话:0953-2121660",  # an office landline with its area code
    "电话 2121660",  # a landline without it
    "(010)12345678",
    "12345678901",  # 11 digits, but no mobile prefix (1[3-9])
    "文号 陕法委发〔2021〕10号,2023年12月底前",
    "123456789012345678",  # 18 digits (an id number, not a phone): not cut into a fake mobile
    "邮箱 fzb@wuzhong.gov.cn",  # an office's address
    "",
])
def test_landlines_names_and_other_numbers_are_kept(text):
    assert view.mask_personal(text) == text


def test_masking_keeps_offsets_so_highlights_stay_on_the_cited_text():
    text = "前言。\n联系人:周国文,电话 18095315505,邮箱 18095315505@163.com。\n正文。"
    start = text.index("周国文")
    end = text.index("。\n正文") + 1
    masked = view.mask_personal(text)
    html = view.highlight(masked, [(start, end)])
    assert "<mark>周国文,电话 180****5505,邮箱 1**********@163.com。</mark>" in html
    assert not MOBILE.search(html) and "18095315505" not in html


def test_every_view_masks_unless_told_not_to():
    text = "一、联系方式\n请联系周国文,电话 18095315505,邮箱 18095315505@163.com。"
    doc = Document("d1", "d.txt", text, DocMeta(title="某区方案", contact="周国文,电话 18095315505"))
    sections = [Section(("一、联系方式",), 1, "一、联系方式", 0, len(text), 7)]
    start = text.index("请联系")
    cite = Citation(1, "d1", "某区方案", "一、联系方式", text[start:], start, len(text))
    answer = Answer("q", f"{text[start:]}[1]", [cite])
    meta_rows = [("联系方式", doc.meta.contact)]
    shown = [view.document_html(doc, sections, meta_rows), view.answer_html(answer),
             view.question_html("我的手机是 13912345678"), view.pending_html("电话 18095315505")]
    passage = view.passage(view.shown(text), sections, [(start, len(text))])
    shown.append(passage.html)
    for html in shown:
        assert not MOBILE.search(html) and "18095315505@" not in html, html
    assert "周国文" in shown[0] and "周国文" in shown[1]  # names stay
    raw = view.document_html(doc, sections, meta_rows, mask=False)
    assert "18095315505" in raw  # [app] mask_personal = false


def test_doc_links_round_trip_and_reject_malformed_values():
    link = view.doc_link("002_6963 x.txt", 3286, 3515)
    assert link == "#doc=002_6963%20x.txt&at=3286-3515"
    assert view.parse_doc_link(link) == ("002_6963 x.txt", 3286, 3515)
    assert view.parse_doc_link("#doc=abc") == ("abc", None, None)
    assert view.parse_doc_link("doc=abc&at=5") == ("abc", 5, 5)
    for bad in ("", "#doc=", "#doc=a&at=9-3", "#doc=a&at=x", "#x=1", "#doc=" + "a" * 700, None, 5,
                "#doc=a&at=1-2&evil=1"):
        assert view.parse_doc_link(bad) is None, bad


def test_markers_open_their_source_and_sources_link_to_the_document():
    text = "一、总则\n各部门应当执行。"
    sections = [Section(("一、总则",), 1, "一、总则", 0, len(text), 5)]
    cite = Citation(1, "d 1", "标题", "一、总则", "各部门应当执行。", 5, len(text))
    p = view.passage(text, sections, [(5, len(text))])
    html = view.answer_html(Answer("q", "要执行[1]。[7]", [cite]), {1: p})
    assert '<sup class="rag-ref" role="button" tabindex="0" title="查看来源 1">[1]</sup>' in html
    assert "[7]" in html and html.count("rag-ref") == 1  # an unknown marker stays text
    assert '<a class="rag-open-doc" href="#doc=d%201&amp;at=5-' in html and "在文件中查看" in html
    assert "\n" not in html and "data-" not in html  # the chatbot strips data-* attributes


def test_the_scope_line_says_document_place_period_and_draft():
    meta = DocMeta(title="利通区法治政府建设实施方案(2016—2020年)", region="利通区", province="宁夏回族自治区",
                   city="吴忠市", period="2016-2020", doc_type="implementation_plan", draft=True)
    sc = view.doc_scope("002", meta, ["(一)… › 5.加强市场监管"])
    assert sc.place == "宁夏回族自治区吴忠市利通区" and sc.period == "2016—2020年" and sc.draft and sc.ended
    html = view.scope_html([sc], filters="「宁夏回族自治区」的文件")
    for part in ("《利通区法治政府建设实施方案(2016—2020年)》", "征求意见稿", "宁夏回族自治区吴忠市利通区",
                 "2016—2020年", "实施期已结束", "5.加强市场监管", "只在「宁夏回族自治区」的文件中查找"):
        assert part in html, part
    adopted = view.doc_scope("003", DocMeta(title="陕西省方案", region="陕西省", province="陕西省", period="2021-2025"))
    assert not adopted.draft and adopted.place == "陕西省"
    assert "征求意见稿" not in view.scope_html([adopted])
    report = DocMeta(title="五原县2022年报告", region="五原县", period="2022", doc_type="annual_report")
    assert view.period_label(report) == "2022年度" and not view.period_ended(report)


def test_the_draft_badge_follows_the_metadata():
    assert view.is_draft(DocMeta(title="方案", draft=True))
    assert not view.is_draft(DocMeta(title="方案"))  # ingest decides (title, header, text head)


def test_tables_become_rows_that_open_their_source():
    rows = [{"measure": "深化商事制度改革<b>", "lead": ["区市场监管局"], "support": [], "deadlines": ["2016年底前"],
             "title": "利通区方案", "section": "二、… › 5.加强市场监管 › 2)"}]
    html = view.duty_cards(rows, "营业执照")
    assert html.count('<tr class="rag-row" data-i="0"') == 1 and "&lt;b&gt;" in html
    assert 'data-label="牵头单位"' in html and "找到 1 条分工" in html and "\n" not in html
    assert view.duty_cards([]) == ""


def test_an_items_number_stays_with_its_text_in_the_document_view():
    from rag.ingest.outline import parse_outline


    text = "一、总体要求\n1)建立清单。到2022年完成。\n2)公布目录。\n"
    doc = Document(doc_id="d", path="d.txt", text=text, meta=DocMeta(title="某县实施方案"))
    html = view.document_html(doc, parse_outline(text), mask=False)
    assert "1)建立清单。到2022年完成。" in html and "<h7" not in html and "<h6>1)" not in html
    assert ">一、总体要求<" in html or "一、总体要求<a" in html  # a real heading keeps its heading tag
