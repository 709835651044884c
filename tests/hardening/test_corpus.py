"""Hardening: managing the index from the CLI on a corpus copy (add, remove, list, incremental
build) and paths that try to get out of the corpus folder or through links."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support.fakes import make_config
from support.hardening import NEW_DOC, TAG, one_line_error

from rag.index.builder import IndexBuilder
from rag.index.layout import read_manifest
from rag.index.reader import Index

pytestmark = [  # gradio's queue uses pandas options that pandas 3 deprecates (not our code)
    pytest.mark.filterwarnings("ignore:'future.no_silent_downcasting' is deprecated"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def test_add_copies_an_outside_file_in_and_it_is_listed_and_searchable(rag, tmp_path):
    before = rag.version()
    outside = tmp_path / "incoming" / "新区法治政府建设实施方案.txt"
    outside.parent.mkdir()
    outside.write_text(NEW_DOC, encoding="utf-8")
    code, lines, _, err = rag("add", str(outside), "--json")
    assert code == 0, err
    doc_id = "新区法治政府建设实施方案.txt"  # doc ids keep the extension
    assert rag.statuses(lines)[doc_id] == "added"
    assert (rag.docs / outside.name).read_bytes() == outside.read_bytes() and outside.exists()
    man = read_manifest(rag.index)
    assert man["version"] != before and doc_id in man["documents"] and man["counts"]["documents"] == 3
    from rag.pipeline import Pipeline  # what the app and the evaluation open

    assert Pipeline.from_config(make_config(rag.index, rag.docs)).index.version == man["version"]
    for command in ("list", "docs"):
        code, docs, _, _ = rag(command, "--json")
        assert code == 0 and doc_id in {d["doc_id"] for d in docs}
    code, hits, _, _ = rag("search", "智慧普法云平台", "--json")
    assert hits[0]["hits"][0]["doc_id"] == doc_id
    code, answer, _, _ = rag("ask", "智慧普法云平台什么时候建成?", "--json")
    assert "2030年底前" in answer[0]["answer"] and answer[0]["citations"][0]["doc_id"] == doc_id
    # the same file again: nothing to do
    code, lines, _, _ = rag("add", str(outside), "--json")
    assert code == 0 and rag.statuses(lines)[doc_id] == "unchanged"


def test_add_refuses_what_it_must_not_copy(rag, tmp_path):
    name = sorted(p.name for p in rag.docs.iterdir())[0]
    same_name = tmp_path / "other" / name
    same_name.parent.mkdir()
    same_name.write_text("另一份同名文件。\n一、总则\n内容不同。", encoding="utf-8")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00")
    hidden = tmp_path / ".secret.txt"
    hidden.write_text("隐藏文件。", encoding="utf-8")
    good = tmp_path / "新区法治政府建设实施方案.txt"
    good.write_text(NEW_DOC, encoding="utf-8")
    twin = tmp_path / "twin" / good.name
    twin.parent.mkdir()
    twin.write_text(NEW_DOC + "另一个版本。", encoding="utf-8")
    version, corpus = rag.version(), rag.corpus()
    original = (rag.docs / name).read_bytes()
    cases = [
        ([str(same_name)], "already exists with other content"),
        ([str(exe)], "unsupported format"),
        ([os.path.relpath("/etc/passwd")], "unsupported format"),  # ../../…/etc/passwd from any cwd
        (["/etc/passwd"], "unsupported format"),
        ([str(tmp_path / "missing.txt")], "not a file"),
        ([str(tmp_path)], "not a file"),
        ([str(hidden)], "skipped by the corpus scan"),
        ([str(good), str(same_name)], "already exists"),  # checked before anything is copied
        ([str(good), str(twin)], "would overwrite each other"),
    ]
    for paths, message in cases:
        code, _, _, err = rag("add", *paths)
        assert code == 1 and message in err and one_line_error(err), (paths, err)
    assert rag.version() == version and rag.corpus() == corpus
    assert (rag.docs / name).read_bytes() == original


def test_remove_takes_a_document_out_for_good(rag):
    code, docs, _, _ = rag("list", "--json")
    victim = docs[0]["doc_id"]
    text = Index.open(rag.index, make_config(rag.index)).document(victim).text
    phrase = next(line for line in text.splitlines() if len(line) > 30)[:24]
    code, lines, _, err = rag("remove", victim, "--json")
    assert code == 0 and rag.statuses(lines)[victim] == "removed", err
    assert victim not in rag.corpus() and f".removed/{victim}" in rag.corpus()
    code, docs, _, _ = rag("list", "--json")
    assert victim not in {d["doc_id"] for d in docs}
    code, hits, _, _ = rag("search", phrase, "-k", "10", "--json")
    assert all(h["doc_id"] != victim for h in hits[0]["hits"])
    # the next build does not bring it back
    code, lines, _, _ = rag("build", "--json")
    assert code == 0 and victim not in rag.statuses(lines) and victim not in read_manifest(rag.index)["documents"]


@pytest.mark.parametrize("doc_id", ["nope", "../x", "../../etc/passwd", "/etc/passwd", ""])
def test_remove_of_an_unknown_doc_id_is_a_clear_error(rag, doc_id):
    version, corpus = rag.version(), rag.corpus()
    code, _, _, err = rag("remove", doc_id)
    assert code == 1 and "no document" in err and "python -m rag list" in err and one_line_error(err)
    assert rag.version() == version and rag.corpus() == corpus


def test_build_reprocesses_only_new_or_changed_files(rag, tmp_path):
    first, second = sorted(rag.docs.iterdir())
    first.write_text(first.read_text(encoding="utf-8") + "\n五、新增一节\n新增的措施内容。", encoding="utf-8")
    os.utime(second, (time.time() + 60, time.time() + 60))  # touched, same content
    (rag.docs / "broken.docx").write_bytes(b"PK\x03\x04 not really a docx")
    before = rag.version()
    code, lines, _, _ = rag("build", "--json")
    statuses = rag.statuses(lines)
    assert statuses[first.name] == "updated" and statuses[second.name] == "unchanged"
    failed = [x for x in lines if x.get("status") == "failed"]
    assert len(failed) == 1 and "broken.docx" in failed[0]["reason"] and failed[0]["reason"].strip()
    assert code == 1  # a failed file is reported, the others are indexed anyway
    man = read_manifest(rag.index)
    assert man["version"] != before and set(man["documents"]) == {first.name, second.name}
    assert lines[-1]["summary"].count("1 updated") == 1


def test_a_link_out_of_the_corpus_folder_is_not_indexed(rag, tmp_path):
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("内部绝密资料:服务器口令是甲乙丙丁。\n一、总则\n不得外传。", encoding="utf-8")
    (rag.docs / "leak.txt").symlink_to(secret)
    code, lines, _, _ = rag("build", "--json")
    failed = [x for x in lines if x.get("status") == "failed"]
    assert code == 1 and len(failed) == 1 and "outside the corpus folder" in failed[0]["reason"]
    idx = Index.open(rag.index, make_config(rag.index))
    assert all("甲乙丙丁" not in c.text for c in idx.store.iter_chunks())
    # nor through `add`
    code, _, _, err = rag("add", str(rag.docs / "leak.txt"))
    assert code == 1 and "link to a file outside" in err and one_line_error(err)


def test_add_never_writes_through_a_link(rag, tmp_path):
    target = tmp_path / "elsewhere" / "plan.txt"  # does not exist yet: a dangling link
    target.parent.mkdir()
    (rag.docs / "plan.txt").symlink_to(target)
    incoming = tmp_path / "incoming" / "plan.txt"
    incoming.parent.mkdir()
    incoming.write_text(NEW_DOC, encoding="utf-8")
    code, _, _, err = rag("add", str(incoming))
    assert code == 1 and "is a link" in err and one_line_error(err)
    assert not target.exists()
    assert not [p for p in rag.docs.iterdir() if ".adding-" in p.name]


def test_documents_are_read_from_the_index_only(corpus_index, tmp_path):
    """The document viewer takes a doc_id, never a path: anything else is 'not in the index'."""
    from rag.app.service import Service
    from rag.pipeline import Pipeline

    cfg, index_dir = corpus_index
    svc = Service(Pipeline.from_config(cfg, index_dir), make_config(index_dir, **{"app.data_dir": str(tmp_path)}))
    for doc_id in ("../x", "../../etc/passwd", "/etc/passwd", "../../../../../../etc/passwd", "rag.toml",
                   "%2e%2e/%2e%2e/etc/passwd", "<script>alert(1)</script>", "\x00", "003"):
        html = svc.document_view(doc_id)
        assert "rag-error" in html and "root:" not in html and not TAG.search(html), doc_id
    real = svc.documents()[0].doc_id
    assert "rag-doc-title" in svc.document_view(real)


# ================================================================== round two: ids, failed adds, links

SUPPORTED_PAIRS = [(a, b) for i, a in enumerate((".txt", ".md", ".html", ".htm", ".docx", ".pdf"))
                   for b in (".txt", ".md", ".html", ".htm", ".docx", ".pdf")[i + 1:]]


def _document(path: Path, text: str) -> None:
    """A small document of `text` in the format of `path`'s extension."""
    ext = path.suffix
    if ext in (".txt", ".md"):
        path.write_text(text, encoding="utf-8")
    elif ext in (".html", ".htm"):
        path.write_text("<html><body>" + "".join(f"<p>{x}</p>" for x in text.splitlines()) + "</body></html>",
                        encoding="utf-8")
    elif ext == ".docx":
        import docx

        d = docx.Document()
        for line in text.splitlines():
            d.add_paragraph(line)
        d.save(path)
    else:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.cidfonts import UnicodeCIDFont
        from reportlab.pdfgen import canvas

        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        c = canvas.Canvas(str(path), pagesize=A4)
        c.setFont("STSong-Light", 11)
        for i, line in enumerate(text.splitlines()):
            c.drawString(50, 800 - 16 * i, line)
        c.save()


@pytest.mark.parametrize("a,b", SUPPORTED_PAIRS, ids=[f"{a}+{b}" for a, b in SUPPORTED_PAIRS])
def test_documents_whose_names_differ_only_in_extension_are_two_documents(tmp_path, a, b):
    """plan.txt and plan.md (any pair of supported formats) are indexed side by side; adding or
    removing one never touches the other."""
    docs, index_dir = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    _document(docs / f"plan{a}", "甲县法治政府建设实施方案\n一、总体要求\n甲县要求2025年底前建成行政执法监督平台。")
    _document(docs / f"plan{b}", "乙县法治政府建设实施方案\n一、总体要求\n乙县要求2026年底前建成复议调解中心。")
    cfg = make_config(index_dir, docs)
    report = IndexBuilder(cfg).build(docs, index_dir)
    assert {d.doc_id for d in report.live()} == {f"plan{a}", f"plan{b}"}, report.documents
    idx = Index.open(index_dir, cfg)
    assert "甲县" in idx.document(f"plan{a}").text and "乙县" in idx.document(f"plan{b}").text
    IndexBuilder(cfg).remove([f"plan{b}"], docs, index_dir)
    assert [d.doc_id for d in Index.open(index_dir, cfg).documents()] == [f"plan{a}"]


def test_add_of_a_same_stem_file_adds_a_second_document(rag, tmp_path):
    code, docs, _, _ = rag("list", "--json")
    first = docs[0]["path"]
    other = tmp_path / "elsewhere" / (Path(first).stem + ".md")
    other.parent.mkdir()
    other.write_text(NEW_DOC, encoding="utf-8")
    code, lines, _, err = rag("add", str(other), "--json")
    assert code == 0 and rag.statuses(lines)[other.name] == "added", err
    assert rag.statuses(lines)[first] == "unchanged"  # not replaced
    code, lines, _, err = rag("remove", Path(first).stem)  # a stem that names two documents
    assert code == 1 and "names several documents" in err and one_line_error(err)


def test_a_failed_add_leaves_nothing_behind(rag, tmp_path, monkeypatch):
    corpus, version = rag.corpus(), rag.version()
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really a docx")
    code, _, _, err = rag("add", str(broken))
    assert code == 1 and "cannot be indexed" in err and one_line_error(err)
    assert rag.corpus() == corpus and rag.version() == version
    # another build holds the lock: the copy made for the add is taken back
    from rag.index.layout import IndexLayout

    good = tmp_path / "新区法治政府建设实施方案.txt"
    good.write_text(NEW_DOC, encoding="utf-8")
    with IndexLayout(rag.index).lock():
        code, _, _, err = rag("add", str(good))
    assert code == 1 and "another build is running" in err and one_line_error(err)
    assert rag.corpus() == corpus and rag.version() == version


def test_a_hard_link_to_a_file_outside_is_not_indexed(rag, tmp_path):
    secret = tmp_path / "private" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("绝密:服务器口令是 hunter2。\n" + NEW_DOC, encoding="utf-8")
    os.chmod(secret, 0o600)
    os.link(secret, rag.docs / "leak.txt")
    code, lines, _, err = rag("build", "--json")
    failed = [x for x in lines if x.get("status") == "failed"]
    assert code == 1 and failed and "hard links" in failed[0]["reason"]
    code, docs, _, _ = rag("list", "--json")
    assert "leak.txt" not in {d["doc_id"] for d in docs}
    code, lines, _, err = rag("add", str(rag.docs / "leak.txt"))
    assert code == 1 and "hard links" in err and one_line_error(err)
