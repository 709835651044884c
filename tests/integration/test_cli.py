"""`python -m rag …`: JSON shapes and one-line errors."""

import json
import subprocess
import sys

import pytest
from support.fakes import ROOT


@pytest.fixture()
def cli(run_cli):
    """The CLI in-process; stdout parsed as JSON lines."""

    def run(*args: str) -> tuple[int, list, str]:
        code, out, err = run_cli(*args)
        return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err

    return run


HIT_KEYS = {"rank", "score", "doc_id", "title", "section", "text", "start", "end"}


def test_search_json_shape(cli):
    code, lines, _ = cli("search", "利通区整治红顶中介", "-k", "3", "--json")
    assert code == 0 and len(lines) == 1
    hits = lines[0]["hits"]
    assert len(hits) == 3 and set(hits[0]) == HIT_KEYS
    assert [h["rank"] for h in hits] == [1, 2, 3]
    assert any("红顶中介" in h["text"] for h in hits)


def test_search_batch_loads_once_and_keeps_ids(cli, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "question": "营业执照"}\n\n{"id": 7, "question": "两法衔接平台"}\n'
                     '{"id": "empty", "question": "   "}\n', encoding="utf-8")
    code, lines, _ = cli("search", "--batch", str(batch), "-k", "2", "--json")
    assert code == 0
    assert [line["id"] for line in lines] == ["a", 7, "empty"]
    assert len(lines[0]["hits"]) == 2 and set(lines[0]["hits"][0]) == HIT_KEYS
    assert lines[2]["hits"] == [] and "empty" in lines[2]["error"]


def test_docs_json_has_metadata_and_counts(cli):
    code, lines, _ = cli("docs", "--json")
    assert code == 0 and len(lines) == 5
    for key in ("doc_id", "title", "region", "level", "province", "period", "doc_type", "issuer", "date",
                "doc_number", "sections", "chunks", "duties"):
        assert key in lines[0]
    shaanxi = next(d for d in lines if d["doc_id"].startswith("003"))
    assert shaanxi["doc_number"] == "陕法委发〔2021〕10号"


def test_departments_json_and_query(cli):
    code, lines, _ = cli("departments", "--query", "营业执照", "-k", "3", "--json")
    assert code == 0 and lines
    assert lines[0]["lead"] == ["区市场监管局"]
    for key in ("measure", "section", "lead", "support", "deadlines", "doc_id", "start", "end"):
        assert key in lines[0]
    code, all_rows, _ = cli("departments", "--json")
    assert len(all_rows) >= 75


def test_ask_json_shape_and_citation_markers(cli):
    code, lines, _ = cli("ask", "陕西要求哪年前建成两法衔接平台?", "--json")
    assert code == 0
    a = lines[0]
    assert set(a) >= {"answer", "refused", "citations"}
    assert a["refused"] is False and "2023年年底前" in a["answer"]
    assert a["citations"] and set(a["citations"][0]) >= {"n", "doc_id", "title", "section", "text", "start", "end"}
    for c in a["citations"]:
        assert f"[{c['n']}]" in a["answer"]


def test_ask_batch(cli, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "x", "question": "北京市的法治政府建设方案"}\n', encoding="utf-8")
    code, lines, _ = cli("ask", "--batch", str(batch), "--json")
    assert code == 0 and lines[0]["id"] == "x" and lines[0]["refused"] is True


@pytest.mark.parametrize("args, message", [
    (["search", "", "--json"], "empty"),
    (["search", "?!。,", "--json"], "punctuation"),
    (["search", "营业执照", "--region", "火星"], "no document covers region"),
    (["search", "营业执照", "--doc", "nope"], "no document matches"),
])
def test_bad_input_is_one_line_and_non_zero(cli, args, message):
    code, _, err = cli(*args)
    assert code == 1
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_filters_restrict_results(cli):
    code, lines, _ = cli("search", "法治政府建设", "--region", "陕西", "-k", "5", "--json")
    assert {h["doc_id"][:3] for h in lines[0]["hits"]} == {"003"}
    code, lines, _ = cli("search", "法治政府建设", "--doc", "004", "-k", "5", "--json")
    assert {h["doc_id"][:3] for h in lines[0]["hits"]} == {"004"}


def test_real_process_without_an_index(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rag", "search", "营业执照", "--index", str(tmp_path / "none")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: no index") and "make index" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_real_process_with_an_unknown_corpus_folder(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "rag", "build", "--docs", str(tmp_path / "none"),
                           "--index", str(tmp_path / "idx")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "corpus folder not found" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("args", [["search", "行政复议", "-k", "-5"], ["search", "行政复议", "-k", "0"],
                                  ["search", "行政复议", "-k", "x"], ["departments", "--query", "营业执照", "-k", "-1"]])
def test_counts_out_of_range_are_usage_errors(run_cli, args, capsys):
    with pytest.raises(SystemExit) as e:
        run_cli(*args)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "argument -k" in err and ("between" in err or "whole number" in err), err


def test_a_batch_with_a_bad_line_reports_it_and_answers_the_rest(run_cli, tmp_path):
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes('{"id": 1, "question": "行政复议由谁负责?"}\n'.encode("utf-8") + b'{"id": 2, "question": "\xff\xfe"}\n'
                      + b"not json\n" + '{"id": 4, "question": "营业执照归哪个部门管?"}\n'.encode("utf-8"))
    code, out, err = run_cli("ask", "--batch", str(batch), "--json")
    answered = [json.loads(x)["id"] for x in out.splitlines()]
    assert answered == [1, 4] and code == 1
    assert "line 2: not UTF-8" in err and "line 3: not JSON" in err and "Traceback" not in err
