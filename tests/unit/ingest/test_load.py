"""Document loading (rag/load.py). Every fixture is built here, in tmp_path."""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.fakes import ROOT

from rag.errors import LoadError
from rag.ingest.corpus import iter_corpus
from rag.ingest.load import NO_TEXT_LAYER, SUPPORTED, Loaded, load_file
from rag.ingest.load.encoding import BINARY_CONTROL_SHARE, decode_bytes
from rag.ingest.load.pdf import page_of

TRAD = (
    "陝西省法治政府建設實施方案(2021-2025年)\n一、總體要求\n(一)指導思想\n"
    "堅持以習近平新時代中國特色社會主義思想為指導"
)
SIMP = (
    "陕西省法治政府建设实施方案(2021-2025年)\n一、总体要求\n(一)指导思想\n"
    "坚持以习近平新时代中国特色社会主义思想为指导"
)
PLAN = (
    "利通区法治政府建设实施方案(2016-2020年)\n"
    "一、总体要求\n"
    "(一)指导思想\n"
    "坚持依法行政,加快建设法治政府。\n"
    "1.全面推行权责清单制度\n"
    "(1)2016年12月底前完成权责清单编制,公开率达到100%。(区司法局牵头,各有关部门配合)\n"
)


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


# --------------------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    "text, codec, expected_encoding",
    [
        (PLAN, "utf-8", "utf-8"),
        (PLAN, "utf-8-sig", "utf-8-sig"),
        (PLAN, "gb18030", "gb18030"),
        (PLAN, "gbk", "gb18030"),
        (SIMP, "gbk", "gb18030"),
        (SIMP, "gb18030", "gb18030"),
        (TRAD, "big5", "big5"),
        (TRAD, "gb18030", "gb18030"),  # traditional characters in a GB file stay GB
        (TRAD, "utf-16", "utf-16"),
    ],
)
def test_encodings_round_trip(tmp_path, text, codec, expected_encoding):
    data = text.encode(codec)
    assert decode_bytes(data) == (text, expected_encoding)
    loaded = load_file(write(tmp_path, "doc.txt", data))
    assert loaded == Loaded(text=text, format="txt", encoding=expected_encoding, pages=[], skipped=None)


def test_big5_is_not_mistaken_for_gb18030():
    data = TRAD.encode("big5")
    garbage = data.decode("gb18030")  # decodes "successfully" into nonsense
    assert garbage != TRAD
    assert decode_bytes(data) == (TRAD, "big5")


def test_plausibility_scores_wrong_decodings_low():
    from rag.ingest.load.encoding import _plausibility

    assert _plausibility(TRAD) == 1.0 and _plausibility(SIMP) == 1.0
    assert _plausibility(TRAD.encode("big5").decode("gb18030")) < 0.5
    assert _plausibility(SIMP.encode("gbk").decode("big5", errors="ignore")) < 0.7


def test_line_endings_and_control_characters():
    data = "一、总体要求\r\n(一)指导思想\r坚持\x00依法\x1b行政\n1.健全\t制度\r\n\r\n结束\x7f\f第二页".encode("gb18030")
    text, enc = decode_bytes(data)
    assert enc == "gb18030"
    assert text == "一、总体要求\n(一)指导思想\n坚持依法行政\n1.健全\t制度\n\n结束\n第二页"
    assert text.split("\n") == (text + "\n").splitlines()


def test_mixed_line_endings_in_a_file(tmp_path):
    p = write(tmp_path, "mixed.txt", "第一行\r\n第二行\n第三行\r第四行\r\n".encode("utf-8"))
    assert load_file(p).text == "第一行\n第二行\n第三行\n第四行\n"


def test_truncated_last_character_is_tolerated():
    data = (PLAN * 20).encode("utf-8") + "中".encode("utf-8")[:2]
    text, enc = decode_bytes(data)
    assert enc == "utf-8"
    assert text == PLAN * 20 + "\ufffd"


def test_random_binary_is_not_text(tmp_path):
    rng = random.Random(7)
    data = bytes(rng.getrandbits(8) for _ in range(4096))
    with pytest.raises(LoadError, match="not a text file"):
        decode_bytes(data)
    p = write(tmp_path, "blob.txt", data)
    with pytest.raises(LoadError) as e:
        load_file(p)
    assert str(e.value).startswith(str(p) + ": not a text file")
    assert "\n" not in str(e.value)


def test_nul_padded_binary_is_not_text():
    with pytest.raises(LoadError, match="not a text file"):
        decode_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200 + b"IHDR")


def test_declared_charset_breaks_a_tie():
    data = "附件".encode("gbk")  # the same bytes are "蜇璃" in Big5
    assert data == "蜇璃".encode("big5")
    assert decode_bytes(data, declared="gb2312") == ("附件", "gb18030")
    assert decode_bytes(data, declared="big5") == ("蜇璃", "big5")
    # valid UTF-8 wins over a wrong declaration
    assert decode_bytes("附件".encode("utf-8"), declared="gbk") == ("附件", "utf-8")


def test_empty_input():
    assert decode_bytes(b"") == ("", "utf-8")


CONTROLS = [chr(c) for c in range(0x20) if chr(c) not in "\t\n\r"] + ["\x7f", "\x85", "\u2028", "\u2029", "\r", "\r\n"]


def reference_normalize(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join("\n" if c in "\f\v\x85\u2028\u2029" else c for c in text)
    return "".join(c for c in text if c in "\t\n" or unicodedata.category(c) != "Cc")


@st.composite
def text_with_some_controls(draw):
    base = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=300))
    chars = list(base)
    for _ in range(draw(st.integers(0, len(chars) // 10))):
        chars.insert(draw(st.integers(0, len(chars))), draw(st.sampled_from(CONTROLS)))
    return "".join(chars)


@settings(max_examples=300, deadline=None)
@given(text_with_some_controls())
def test_utf8_round_trip_property(text):
    expected = reference_normalize(text[1:] if text.startswith("\ufeff") else text)
    out, enc = decode_bytes(text.encode("utf-8"))
    assert out == expected
    assert enc == ("utf-8-sig" if text.startswith("\ufeff") else "utf-8")
    assert out.split("\n") == (out + "\n").splitlines()


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_utf8_arbitrary_text_property(text):
    """Any text: round-trips, unless it is mostly control characters (then: not text)."""
    controls = sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\v\f\x85")
    body = text[1:] if text.startswith("\ufeff") else text
    if controls > BINARY_CONTROL_SHARE * len(body):
        with pytest.raises(LoadError):
            decode_bytes(text.encode("utf-8"))
    else:
        assert decode_bytes(text.encode("utf-8"))[0] == reference_normalize(body)


# --------------------------------------------------------------------------- files


def test_missing_file(tmp_path):
    p = tmp_path / "nope.txt"
    with pytest.raises(LoadError) as e:
        load_file(p)
    assert str(e.value) == f"{p}: no such file"
    assert e.value.path == str(p)


def test_directory(tmp_path):
    d = tmp_path / "folder.txt"
    d.mkdir()
    with pytest.raises(LoadError, match="is a directory"):
        load_file(d)


def test_unsupported_extension(tmp_path):
    p = write(tmp_path, "plan.doc", b"\xd0\xcf\x11\xe0")
    with pytest.raises(LoadError) as e:
        load_file(p)
    assert str(e.value).startswith(f"{p}: unsupported file type .doc")
    assert "\n" not in str(e.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read anything")
def test_permission_denied(tmp_path):
    p = write(tmp_path, "secret.txt", PLAN)
    p.chmod(0)
    try:
        with pytest.raises(LoadError, match="permission denied"):
            load_file(p)
    finally:
        p.chmod(0o644)


def test_empty_and_blank_files_are_skipped(tmp_path):
    assert load_file(write(tmp_path, "empty.txt", b"")).skipped == "empty file"
    blank = load_file(write(tmp_path, "blank.md", "\n  \n"))
    assert (blank.text, blank.skipped) == ("", "empty file")


def test_uppercase_extension(tmp_path):
    assert load_file(write(tmp_path, "PLAN.TXT", PLAN)).text == PLAN


def test_iter_corpus(tmp_path):
    for name in ["b.txt", "a.PDF", "sub/c.docx", "sub/d.html", "x.doc", ".hidden.txt", ".git/e.txt",
                 "sub/.cache/f.md", "~$lock.docx", "z.md", "sub/g.htm"]:
        write(tmp_path, name, b"x")
    got = [p.relative_to(tmp_path).as_posix() for p in iter_corpus(tmp_path)]
    assert got == ["a.PDF", "b.txt", "sub/c.docx", "sub/d.html", "sub/g.htm", "z.md"]
    with pytest.raises(LoadError, match="not a folder"):
        list(iter_corpus(tmp_path / "b.txt"))


def test_supported():
    assert SUPPORTED == (".txt", ".md", ".html", ".htm", ".docx", ".pdf")


def test_no_heavy_imports_at_import_time():
    code = (
        "import sys, rag.ingest.load; "
        "print(sorted(m for m in ('docx', 'pypdf', 'bs4', 'charset_normalizer', 'lxml') if m in sys.modules))"
    )
    root = ROOT
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                         env={**os.environ, "PYTHONPATH": str(root)}, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- markdown

MD = """\
# 利通区法治政府建设实施方案

> 征求意见稿

## 一、总体要求 ##

**(一)指导思想**

坚持以*习近平新时代中国特色社会主义思想*为指导,详见[实施纲要](http://www.gov.cn/a.html "纲要")和`附件1`。(区司法局牵头,各有关部门配合)

| 任务 | 牵头单位 |
|:-----|---------:|
| 权责**清单** | 区司法局 |

1. 全面推行权责清单制度
   (1)2016年12月底前完成,费用\\*不超过\\*预算。

- 要点一
* [ ] 要点二

```text
代码块内容 **保留**
```

---
二、主要任务
============
![示意图](x.png)
[ref]: http://example.com
__完__
"""

MD_TEXT = """\
利通区法治政府建设实施方案

征求意见稿

一、总体要求

(一)指导思想

坚持以习近平新时代中国特色社会主义思想为指导,详见实施纲要和附件1。(区司法局牵头,各有关部门配合)

任务\t牵头单位
权责清单\t区司法局

1. 全面推行权责清单制度
(1)2016年12月底前完成,费用*不超过*预算。

要点一
要点二

代码块内容 **保留**

二、主要任务
示意图
完
"""


def test_markdown(tmp_path):
    loaded = load_file(write(tmp_path, "plan.md", MD.encode("gb18030")))
    assert loaded.format == "md"
    assert loaded.encoding == "gb18030"
    assert loaded.text == MD_TEXT


# --------------------------------------------------------------------------- html

PAGE = """\
<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>关于印发方案的通知_利通区人民政府</title>
<style>.x {{ color: red }}</style><script>var a = "脚本里的中文";</script></head>
<body>
<div class="header"><img src="logo.png"><div class="top-nav"><a href="/">首页</a><a href="/zw">政务公开</a></div></div>
<nav><a href="/">网站首页</a> <a href="/a">机构设置</a></nav>
<div id="breadcrumb">当前位置:<a href="/">首页</a> &gt; <a href="/hd">互动交流</a></div>
<div class="main">
 <div class="left"><ul><li><a href="1">民意征集</a></li><li><a href="2">在线访谈</a></li><li><a href="3">领导信箱</a></li></ul></div>
 <div class="right">
  <h1>利通区法治政府建设实施方案</h1>
  <div class="info">发布日期:2016年08月22日 来源:利通区政府办</div>
  <div class="content" id="zoom">
   <p>　　为深入推进依法行政,加快建设法治政府,
   结合我区实际,制定本方案。</p>
   <p>一、总体要求</p>
   <p>(一)指导思想</p>
   <p>坚持以<b>习近平</b>新时代中国特色社会主义思想为指导。(区司法局牵头,各有关部门配合)</p>
   <table><tr><td>任务</td><td>牵头单位</td></tr><tr><td>权责清单</td><td>区司法局</td></tr></table>
   <p>1.全面推行权责清单制度<br>(1)2016年12月底前完成。</p>
   <!-- 注释里的中文 -->
  </div>
  <div class="bdsharebuttonbox"><a>分享到微信</a><a>分享到微博</a></div>
  <form><input value="搜索"></form>
 </div>
</div>
<div class="footer">版权所有:吴忠市利通区人民政府 宁ICP备05001234号</div>
<noscript>请启用脚本</noscript>
</body></html>
"""

PAGE_TEXT = (
    "利通区法治政府建设实施方案\n"
    "发布日期:2016年08月22日 来源:利通区政府办\n"
    "为深入推进依法行政,加快建设法治政府,结合我区实际,制定本方案。\n"
    "一、总体要求\n"
    "(一)指导思想\n"
    "坚持以习近平新时代中国特色社会主义思想为指导。(区司法局牵头,各有关部门配合)\n"
    "任务\t牵头单位\n"
    "权责清单\t区司法局\n"
    "1.全面推行权责清单制度\n"
    "(1)2016年12月底前完成。"
)


@pytest.mark.parametrize("charset, codec, encoding", [("gb2312", "gbk", "gb18030"), ("utf-8", "utf-8", "utf-8")])
def test_html_main_content(tmp_path, charset, codec, encoding):
    loaded = load_file(write(tmp_path, "page.html", PAGE.format(charset=charset).encode(codec)))
    assert (loaded.format, loaded.encoding) == ("html", encoding)
    assert loaded.text == PAGE_TEXT


def test_html_big5_charset_meta(tmp_path):
    page = PAGE.format(charset="big5").replace("利通区法治政府建设实施方案", "陝西省法治政府建設實施方案")
    page = page.replace("发布日期", "發佈日期").replace("来源:利通区政府办", "來源:省政府")
    data = page.encode("big5", errors="ignore")  # simplified-only characters drop out
    loaded = load_file(write(tmp_path, "page.htm", data))
    assert loaded.encoding == "big5"
    assert loaded.text.splitlines()[:2] == ["陝西省法治政府建設實施方案", "發佈日期:2016年08月22日 來源:省政府"]


def test_html_meta_charset_decides_ambiguous_bytes(tmp_path):
    html = '<html><head><meta charset="{}"></head><body><article><p>附件</p></article></body></html>'
    gbk = load_file(write(tmp_path, "a.html", html.format("gbk").encode("gbk")))
    big5 = load_file(write(tmp_path, "b.html", html.format("big5").replace("附件", "蜇璃").encode("big5")))
    assert (gbk.text, gbk.encoding) == ("附件", "gb18030")
    assert (big5.text, big5.encoding) == ("蜇璃", "big5")


def test_html_article_preferred(tmp_path):
    page = """<html><body>
    <div class="col"><p>友情链接:这是一段很长的侧栏文字,介绍本网站的栏目设置和各种服务事项,内容较多但并非正文。</p></div>
    <article><h2>一、总体要求</h2><p>坚持依法行政。(区司法局牵头,各有关部门配合)</p>
    <header><h3>(一)指导思想</h3></header><footer>分享 打印</footer></article>
    </body></html>"""
    loaded = load_file(write(tmp_path, "a.html", page))
    assert loaded.text == "一、总体要求\n坚持依法行政。(区司法局牵头,各有关部门配合)\n(一)指导思想"


def test_html_density_heuristic_without_article(tmp_path):
    body = "".join(f"<p>({n})第{n}项措施:健全依法决策机制,严格执行重大行政决策法定程序。</p>" for n in "一二三四")
    page = f"""<html><body>
    <div id="a1"><div class="box">热点专题 政务服务 办事指南 政策解读 常见问题</div>
    <div class="box">联系电话:0953-1234567 地址:利通区政府大楼</div></div>
    <div id="a2"><div class="title">二、主要任务</div><div class="text">{body}</div></div>
    </body></html>"""
    loaded = load_file(write(tmp_path, "d.html", page))
    expected = ["二、主要任务"] + [
        f"({n})第{n}项措施:健全依法决策机制,严格执行重大行政决策法定程序。" for n in "一二三四"
    ]
    assert loaded.text.split("\n") == expected


def test_html_without_text_is_skipped(tmp_path):
    loaded = load_file(write(tmp_path, "e.html", "<html><body><script>x()</script><img src=a.png></body></html>"))
    assert (loaded.text, loaded.skipped) == ("", "no text content")


# --------------------------------------------------------------------------- docx


def _numbered(document, text: str, num_id: int, ilvl: int):
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    p = document.add_paragraph(text)
    p._p.get_or_add_pPr().append(
        parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num_id}"/></w:numPr>')
    )
    return p


def _chinese_outline_numbering(document, num_id: int = 90):
    """A multilevel list as Chinese documents number it: 一、 / (一) / 1. / (1)."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    levels = [("chineseCounting", "%1、"), ("chineseCounting", "(%2)"), ("decimal", "%3."), ("decimal", "(%4)")]
    lvls = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:lvlText w:val="{text}"/></w:lvl>'
        for i, (fmt, text) in enumerate(levels)
    )
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{num_id}">{lvls}</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="{num_id}"><w:abstractNumId w:val="{num_id}"/></w:num>'))


def test_docx_order_tables_and_numbering(tmp_path):
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.add_heading("利通区法治政府建设实施方案", level=1)
    d.add_paragraph("为深入推进依法行政,制定本方案。")
    d.add_heading("一、总体要求", level=2)
    d.add_paragraph("坚持依法行政。(区司法局牵头,各有关部门配合)")
    t = d.add_table(rows=2, cols=3)
    for i, row in enumerate([["任务", "牵头单位", "完成时限"], ["权责清单", "区司法局", "2016年12月底前"]]):
        for j, v in enumerate(row):
            t.cell(i, j).text = v
    d.add_heading("二、主要任务", level=2)
    d.add_paragraph("健全制度", style="List Number")
    d.add_paragraph("完善机制", style="List Number")
    d.add_paragraph("要点", style="List Bullet")
    p = d.add_paragraph("第一段")
    p.add_run().add_break()
    p.add_run("第二段\t制表")
    p = d.add_paragraph()
    p.add_run("依法")
    p.add_run("决策").bold = True
    d.add_paragraph("")  # empty paragraphs vanish
    path = tmp_path / "plan.docx"
    d.save(path)
    loaded = load_file(path)
    assert (loaded.format, loaded.encoding, loaded.pages, loaded.skipped) == ("docx", "", [], None)
    assert loaded.text == (
        "利通区法治政府建设实施方案\n"
        "为深入推进依法行政,制定本方案。\n"
        "一、总体要求\n"
        "坚持依法行政。(区司法局牵头,各有关部门配合)\n"
        "任务\t牵头单位\t完成时限\n"
        "权责清单\t区司法局\t2016年12月底前\n"
        "二、主要任务\n"
        "1.健全制度\n"
        "2.完善机制\n"
        "要点\n"
        "第一段\n第二段\t制表\n"
        "依法决策"
    )
    lines = loaded.text.split("\n")
    assert lines.index("一、总体要求") < lines.index("任务\t牵头单位\t完成时限") < lines.index("二、主要任务")


def test_docx_chinese_outline_numbering(tmp_path):
    docx = pytest.importorskip("docx")
    d = docx.Document()
    _chinese_outline_numbering(d)
    for text, ilvl in [("总体要求", 0), ("指导思想", 1), ("主要目标", 1), ("加强领导", 2), ("健全机制", 2),
                       ("2016年底前完成", 3), ("主要任务", 0), ("依法决策", 1), ("公众参与", 2)]:
        _numbered(d, text, 90, ilvl)
    path = tmp_path / "outline.docx"
    d.save(path)
    assert load_file(path).text == (
        "一、总体要求\n(一)指导思想\n(二)主要目标\n1.加强领导\n2.健全机制\n(1)2016年底前完成\n"
        "二、主要任务\n(一)依法决策\n1.公众参与"
    )


def test_docx_numbering_without_definitions_uses_outline_labels(tmp_path):
    docx = pytest.importorskip("docx")
    d = docx.Document()
    for text, ilvl in [("总体要求", 0), ("指导思想", 1), ("加强领导", 2), ("按时完成", 3), ("按时上报", 3),
                       ("主要任务", 0), ("依法决策", 1)]:
        _numbered(d, text, 77, ilvl)  # numId 77 is not defined in numbering.xml
    path = tmp_path / "fallback.docx"
    d.save(path)
    assert load_file(path).text == (
        "一、总体要求\n(一)指导思想\n1.加强领导\n(1)按时完成\n(2)按时上报\n二、主要任务\n(一)依法决策"
    )


def test_docx_merged_cells(tmp_path):
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.add_paragraph("(一)任务分工")
    t = d.add_table(rows=3, cols=3)
    t.cell(0, 0).merge(t.cell(0, 1)).text = "任务"
    t.cell(0, 2).text = "牵头单位"
    for r, c, v in [(1, 0, "1"), (1, 1, "权责清单"), (2, 0, "2"), (2, 1, "执法公示")]:
        t.cell(r, c).text = v
    t.cell(1, 2).merge(t.cell(2, 2)).text = "区司法局"
    d.add_paragraph("(二)保障措施")
    path = tmp_path / "merged.docx"
    d.save(path)
    assert load_file(path).text == "(一)任务分工\n任务\t牵头单位\n1\t权责清单\t区司法局\n2\t执法公示\n(二)保障措施"


def test_docx_tracked_changes(tmp_path):
    docx = pytest.importorskip("docx")
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls

    d = docx.Document()
    p = d.add_paragraph("严格")
    p._p.append(parse_xml(f'<w:ins {nsdecls("w")} w:id="1" w:author="a"><w:r><w:t>规范</w:t></w:r></w:ins>'))
    p._p.append(parse_xml(f'<w:del {nsdecls("w")} w:id="2" w:author="a"><w:r><w:delText>删除</w:delText></w:r></w:del>'))
    p.add_run("执法")
    path = tmp_path / "tracked.docx"
    d.save(path)
    assert load_file(path).text == "严格规范执法"


def test_docx_corrupt(tmp_path):
    docx = pytest.importorskip("docx")
    d = docx.Document()
    d.add_paragraph("一、总体要求")
    buf = io.BytesIO()
    d.save(buf)
    data = buf.getvalue()
    truncated = write(tmp_path, "truncated.docx", data[: len(data) // 2])
    with pytest.raises(LoadError) as e:
        load_file(truncated)
    assert str(e.value).startswith(f"{truncated}: ") and "\n" not in str(e.value)
    with pytest.raises(LoadError, match="not a .docx file"):
        load_file(write(tmp_path, "old.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500))
    # a zip that is not a Word document
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr("hello.txt", "x")
    bad = write(tmp_path, "zip.docx", zbuf.getvalue())
    with pytest.raises(LoadError) as e:
        load_file(bad)
    assert str(e.value).startswith(f"{bad}: corrupt or unreadable docx")


def test_docx_empty_is_skipped(tmp_path):
    docx = pytest.importorskip("docx")
    path = tmp_path / "empty.docx"
    docx.Document().save(path)
    loaded = load_file(path)
    assert (loaded.text, loaded.skipped) == ("", "no text content")


# --------------------------------------------------------------------------- pdf

PDF_PAGES = [
    [
        "利通区法治政府建设实施方案",
        "为深入推进依法行政,加快建设法治政府,根据中共中央、国务院印发的",
        "《法治政府建设实施纲要》,结合我区实际,制定本方案。",
        "一、总体要求",
        "(一)指导思想",
        "坚持以习近平新时代中国特色社会主义思想为指导,全面贯彻党的十九大和",
    ],
    [
        "十九届历次全会精神,加快推进法治政府建设。",
        "(二)主要目标、基本原则",  # a short heading: not joined although it has no full stop
        "到2025年,政府行为全面纳入法治轨道。",
    ],
    [
        "二、主要任务",
        "1.全面推行权责清单制度,依法公开政府职能、权限、程序和责任,2016年12",
        "月底前完成权责清单编制(区司法局牵头,各有关部门配合)",
        "。",  # punctuation pushed onto a line of its own
        "(1)2017年6月底前,公开率达到100%。",
    ],
]
PDF_TEXT_PAGES = [
    "利通区法治政府建设实施方案\n"
    "为深入推进依法行政,加快建设法治政府,根据中共中央、国务院印发的《法治政府建设实施纲要》,结合我区实际,制定本方案。\n"
    "一、总体要求\n"
    "(一)指导思想\n"
    "坚持以习近平新时代中国特色社会主义思想为指导,全面贯彻党的十九大和",
    "十九届历次全会精神,加快推进法治政府建设。\n(二)主要目标、基本原则\n到2025年,政府行为全面纳入法治轨道。\n",
    "二、主要任务\n"
    "1.全面推行权责清单制度,依法公开政府职能、权限、程序和责任,2016年12月底前完成权责清单编制(区司法局牵头,各有关部门配合)。\n"
    "(1)2017年6月底前,公开率达到100%。",
]


def _pdf(pages, header="利通区人民政府文件", footer="- {n} -", blank=()):
    """A PDF with one CJK line per list item (reportlab, built-in STSong-Light CID font)."""
    pytest.importorskip("reportlab")
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buf = io.BytesIO()
    c = canvas.Canvas(buf)
    for n, lines in enumerate(pages, start=1):
        if n in blank:
            c.rect(100, 100, 300, 300, fill=1)  # a drawing, no text
            c.showPage()
            continue
        c.setFont("STSong-Light", 12)
        if header:
            c.drawString(72, 800, header)
        y = 760
        for line in lines:
            c.drawString(72, y, line)
            y -= 18
        if footer:
            c.drawString(280, 40, footer.format(n=n))
        c.showPage()
    c.save()
    return buf.getvalue()


def test_pdf_headers_footers_pages_and_joined_lines(tmp_path):
    loaded = load_file(write(tmp_path, "plan.pdf", _pdf(PDF_PAGES)))
    assert (loaded.format, loaded.encoding, loaded.skipped) == ("pdf", "", None)
    assert loaded.text == "".join(PDF_TEXT_PAGES)
    assert "利通区人民政府文件" not in loaded.text and "- 2 -" not in loaded.text
    assert [n for _, _, n in loaded.pages] == [1, 2, 3]
    starts = [0, len(PDF_TEXT_PAGES[0]), len(PDF_TEXT_PAGES[0]) + len(PDF_TEXT_PAGES[1])]
    assert loaded.pages == [(starts[0], starts[1], 1), (starts[1], starts[2], 2), (starts[2], len(loaded.text), 3)]
    for (start, end, n), page_text in zip(loaded.pages, PDF_TEXT_PAGES):
        assert loaded.text[start:end] == page_text
    assert page_of(loaded.pages, loaded.text.index("(二)主要目标")) == 2
    assert page_of(loaded.pages, loaded.text.index("纳入法治轨道。\n") + 7) == 2  # the break after a page is its own
    assert page_of(loaded.pages, loaded.text.index("(区司法局牵头")) == 3
    assert page_of(loaded.pages, len(loaded.text)) is None


def test_pdf_page_number_footers_of_other_shapes(tmp_path):
    for footer in ("第 {n} 页", "第{n}页 共3页", "{n}"):
        loaded = load_file(write(tmp_path, "p.pdf", _pdf(PDF_PAGES, header=None, footer=footer)))
        assert loaded.text == "".join(PDF_TEXT_PAGES), footer


def test_pdf_single_page_lone_page_number(tmp_path):
    loaded = load_file(write(tmp_path, "one.pdf", _pdf([PDF_PAGES[2]], header=None, footer="- {n} -")))
    assert loaded.text == PDF_TEXT_PAGES[2]
    assert loaded.pages == [(0, len(PDF_TEXT_PAGES[2]), 1)]


def test_pdf_text_assembly_details():
    from rag.ingest.load.pdf import pdf_to_text

    pages = [
        "⼀、总体要求\n坚 持 依 法 行 政 , 建 设 法 治 政 府 , 推 进 国 家 治 理 体 系 和\n第 1 页 共 2 页",
        "治理能力现代化(区司法局牵头)\nThe plan covers the rule of law, the duties and\nthe deadlines.\n第 2 页 共 2 页",
    ]
    text, spans = pdf_to_text(pages)
    assert text == (
        "一、总体要求\n"  # Kangxi radical ⼀ mapped back to 一; a short heading is not joined
        "坚持依法行政,建设法治政府,推进国家治理体系和治理能力现代化(区司法局牵头)\n"
        "The plan covers the rule of law, the duties and the deadlines."
    )
    second = text.index("治理能力")  # the sentence runs on across the page break
    assert spans == [(0, second, 1), (second, len(text), 2)]


def test_pdf_without_text_layer_is_skipped(tmp_path):
    loaded = load_file(write(tmp_path, "scan.pdf", _pdf([[], []], header=None, footer=None, blank=(1, 2))))
    assert loaded == Loaded(text="", format="pdf", encoding="", pages=[], skipped=NO_TEXT_LAYER)


def test_pdf_blank_page_in_the_middle(tmp_path):
    pages = [PDF_PAGES[0], [], PDF_PAGES[2]]
    loaded = load_file(write(tmp_path, "gap.pdf", _pdf(pages, blank=(2,))))
    assert [n for _, _, n in loaded.pages] == [1, 3]
    start, end, _ = loaded.pages[1]
    assert loaded.text[start:end] == PDF_TEXT_PAGES[2]


def test_pdf_blank_pypdf_page_is_skipped(tmp_path):
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    w.write(buf)
    loaded = load_file(write(tmp_path, "blank.pdf", buf.getvalue()))
    assert (loaded.text, loaded.skipped, loaded.pages) == ("", NO_TEXT_LAYER, [])


def test_pdf_corrupt_and_truncated(tmp_path):
    data = _pdf(PDF_PAGES)
    for cut in (0.3, 0.5, 0.9):
        p = write(tmp_path, f"cut{cut}.pdf", data[: int(len(data) * cut)])
        with pytest.raises(LoadError) as e:
            load_file(p)
        assert str(e.value).startswith(f"{p}: ") and "\n" not in str(e.value)
    with pytest.raises(LoadError, match="not a PDF file"):
        load_file(write(tmp_path, "fake.pdf", PLAN))


def test_pdf_encrypted(tmp_path):
    from pypdf import PdfReader, PdfWriter

    src = PdfReader(io.BytesIO(_pdf(PDF_PAGES)))
    for user_password, ok in (("secret", False), ("", True)):
        w = PdfWriter()
        for page in src.pages:
            w.add_page(page)
        w.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
        buf = io.BytesIO()
        w.write(buf)
        p = write(tmp_path, f"enc{ok}.pdf", buf.getvalue())
        if ok:  # only an owner password: readable, as in a PDF viewer
            assert load_file(p).text == "".join(PDF_TEXT_PAGES)
        else:
            with pytest.raises(LoadError, match="encrypted PDF"):
                load_file(p)


def test_a_line_break_in_a_cell_keeps_a_data_tables_row_but_not_a_layout_tables_text():
    from rag.ingest.load.html import html_to_text

    data = ("<html><body><div><p>各项整改任务及分工见下表,请各责任单位认真抓好落实,按时完成整改。</p>"
            "<table><tr><th>序号</th><th>整改措施</th><th>责任单位</th></tr>"
            "<tr><td>1</td><td>制定述法清单,实现述法全覆盖</td><td>牵头:县委依法治县办<br>配合:县委组织部</td></tr>"
            "</table></div></body></html>")
    assert "牵头:县委依法治县办;配合:县委组织部" in html_to_text(data)
    layout = "<table><tr><td>一、主要举措<br>2023年,全县推进依法行政。<br>(一)深化改革</td></tr></table>"
    assert html_to_text(layout).split("\n")[:3] == ["一、主要举措", "2023年,全县推进依法行政。", "(一)深化改革"]
