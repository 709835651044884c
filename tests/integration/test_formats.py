"""Every supported format through the whole pipeline: sections, duties, citations (and pages)."""

import re

import pytest
from support.fakes import make_config

from rag.index.builder import IndexBuilder
from rag.pipeline import Pipeline

PLAN = [
    "某县法治政府建设实施方案(2021-2025年)",
    "一、总体要求",
    "(一)指导思想",
    "坚持依法行政,建设法治政府。",
    "二、主要任务",
    "(一)深化行政审批制度改革",
    "1.推行电子证照。2022年年底前,电子证照应用覆盖率达到90%以上(县行政审批局牵头,各有关部门配合)。",
    "2.规范行政复议。行政复议案件办结率达到100%(县司法局牵头,各乡镇配合)。",
]


def to_traditional(text: str) -> str:
    import opencc

    return opencc.OpenCC("s2t").convert(text)


def make_docx(path):
    import docx

    d = docx.Document()
    for line in PLAN:
        d.add_paragraph(line)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "指标", "目标值"
    table.cell(1, 0).text, table.cell(1, 1).text = "政务服务网上可办率", "95%"
    d.save(path)


def make_pdf(path):
    pytest.importorskip("reportlab")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    pages = [PLAN[:4], PLAN[4:]]
    for n, lines in enumerate(pages, 1):
        c.setFont("STSong-Light", 11)
        c.drawString(72, 800, "某县人民政府文件")
        y = 760
        for line in lines:
            c.drawString(72, y, line)
            y -= 22
        c.drawString(280, 40, f"- {n} -")
        c.showPage()
    c.save()


FORMATS = {
    "plan.txt": lambda p: p.write_bytes("\n".join(PLAN).encode("gb18030")),
    "plan_big5.txt": lambda p: p.write_bytes(to_traditional("\n".join(PLAN)).encode("big5")),
    "plan.md": lambda p: p.write_text("# " + PLAN[0] + "\n\n" + "\n\n".join(PLAN[1:]), encoding="utf-8"),
    "plan.html": lambda p: p.write_text(
        "<html><head><meta charset='utf-8'></head><body><nav>首页 > 政务公开</nav><article>"
        + "".join(f"<p>{line}</p>" for line in PLAN) + "</article><footer>版权所有 某县人民政府</footer></body></html>",
        encoding="utf-8"),
    "plan.docx": make_docx,
    "plan.pdf": make_pdf,
}


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_through_the_pipeline(tmp_path, name):
    docs = tmp_path / "docs"
    docs.mkdir()
    FORMATS[name](docs / name)
    cfg = make_config(tmp_path / "idx", docs)
    report = IndexBuilder(cfg).build(docs, tmp_path / "idx")
    assert report.count("added") == 1, report.documents
    p = Pipeline.from_config(cfg, tmp_path / "idx")
    doc = p.index.documents()[0]
    assert doc.meta.period == "2021-2025"
    rows = p.departments()
    leads = {tuple(r.lead) for r in rows}
    assert ("县行政审批局",) in leads and ("县司法局",) in leads
    a = p.ask("电子证照由哪个部门牵头?")
    assert re.sub(r"^据[^\n]*:\n", "", a.text).startswith("牵头单位:县行政审批局"), a.text  # after the scope line
    c = a.citations[0]
    assert c.section.startswith("二、主要任务 › (一)深化行政审批制度改革 › 1.推行电子证照")
    assert p.index.document(c.doc_id).text[c.start:c.end] == c.text
    if name.endswith(".pdf"):
        assert c.page == 2
        text = p.index.document(c.doc_id).text
        assert "某县人民政府文件" not in text and "- 1 -" not in text
    if name.endswith(".docx"):
        assert "政务服务网上可办率 | 95%" in p.index.document(doc.doc_id).text  # the table row stays in place
    if name.endswith(".html"):
        assert "版权所有" not in p.index.document(doc.doc_id).text


def test_scanned_pdf_is_reported_as_skipped(tmp_path):
    pytest.importorskip("reportlab")
    from reportlab.pdfgen import canvas

    docs = tmp_path / "docs"
    docs.mkdir()
    c = canvas.Canvas(str(docs / "scan.pdf"))
    c.rect(100, 100, 200, 200, fill=1)
    c.showPage()
    c.save()
    (docs / "ok.txt").write_text("\n".join(PLAN), encoding="utf-8")
    cfg = make_config(tmp_path / "idx", docs)
    report = IndexBuilder(cfg).build(docs, tmp_path / "idx")
    failed = [d for d in report.documents if d.status == "failed"]
    assert len(failed) == 1 and "no text layer" in failed[0].reason
    assert report.count("added") == 1
