"""Reports of a run: the console summary, JSON (everything), Markdown (tables per group and
type, failed questions) and a PNG chart, written to eval/reports/<time>.*."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from rag.evaluation.baseline import Delta, git_commit
from rag.evaluation.dataset import Question, dict_hash
from rag.evaluation.metrics import (
    GROUPS,
    METRICS,
    OVERALL,
    REGRESSION_DROP,
    SUMMARY_METRICS,
    fmt,
    ordered_types,
)
from rag.evaluation.results import EvalResult, QuestionRecord


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    """Plain-text table: the first `left` columns left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(header)] + [line(r) for r in rows])


def format_summary(result: EvalResult, deltas: Sequence["Delta"] | None = None) -> str:
    """Compact terminal summary: metrics as rows, systems as columns (overall), then deltas."""
    n = len(result.questions)
    n_ans = sum(q.answerable for q in result.questions)
    lines = [f"{n} questions ({n_ans} answerable), k={result.k}, main system: {result.main}, "
             f"primary metric: {result.primary_metric}"]
    rows = []
    for m in SUMMARY_METRICS:
        values = [result.tables[s]["overall"].get(m) for s in result.systems]
        if all(v is None for v in values):
            continue
        label = m + (" *" if m == result.primary_metric else "")
        rows.append([label] + [fmt(v, m) for v in values])
    lines.append(_table(["metric"] + result.systems, rows))
    for s in result.systems:
        errs = result.errors(s)
        if errs:
            lines.append(f"WARNING: system {s} raised on {len(errs)} question(s), "
                         f"first: {errs[0].id}: {errs[0].error}")
    main = result.tables[result.main]
    if main.get("by_split"):
        lines += ["", f"{result.main} by split (dev chooses thresholds and rules; test only reports):",
                  compared_table(main["by_split"])]
    if main.get("by_rule"):
        lines += ["", f"{result.main}: refusals per rule (wrong = the question was answerable)",
                  _table(["rule", "refusals", "wrong", "right"],
                         [[r, str(v["refusals"]), str(v["wrong"]), str(v["right"])] for r, v in main["by_rule"].items()])]
    if deltas is not None:
        lines.append("")
        lines.append(format_deltas(deltas))
    return "\n".join(lines)


def compared_table(rows: dict[str, dict]) -> str:
    """The summary metrics of several table rows side by side (one column per row)."""
    names = list(rows)
    out = []
    for m in SUMMARY_METRICS:
        values = [rows[n].get(m) for n in names]
        if all(v is None for v in values):
            continue
        out.append([m] + [fmt(v, m) for v in values])
    return _table(["metric"] + [f"{n} (n={rows[n].get('n', '?')})" for n in names], out)


@dataclass
class ReportPaths:
    json: Path
    md: Path
    png: Path | None  # None when matplotlib is not installed


def _delta_dict(d: Delta) -> dict:
    return asdict(d)


def report_dict(result: EvalResult, manifest: dict | None = None, config: dict | None = None) -> dict:
    commit, dirty = git_commit()
    types = ordered_types(q.type for q in result.questions)
    deltas = result.deltas
    return {
        "schema": 1,
        "kind": "report",
        "timestamp": result.timestamp,
        "git_commit": commit,
        "git_dirty": dirty,
        "k": result.k,
        "primary_metric": result.primary_metric,
        "main_system": result.main,
        "systems": result.systems,
        "can_ask": result.can_ask,
        "questions": {
            "path": result.questions_path,
            "hash": result.questions_hash,
            "count": len(result.questions),
            "answerable": sum(q.answerable for q in result.questions),
            "by_type": {t: sum(q.type == t for q in result.questions) for t in types},
        },
        "metrics": {g: [m.name for m in METRICS if m.group == g] for g in GROUPS},
        "tables": result.tables,
        "records": {s: [asdict(r) for r in recs] for s, recs in result.records.items()},
        "baseline": None if deltas is None else {
            "source": getattr(deltas, "source", ""),
            "notes": list(getattr(deltas, "notes", [])),
            "deltas": [_delta_dict(d) for d in deltas],
            "regressions": [f"{d.scope} {d.metric}" for d in deltas if d.regression],
        },
        "threshold_failures": result.threshold_failures,
        "manifest": manifest if manifest is not None else result.manifest,
        "manifest_hash": dict_hash(manifest if manifest is not None else result.manifest),
        "config": config if config is not None else result.config,
    }


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def _group_table(result: EvalResult, group: str) -> tuple[str, list[str]]:
    """Rows = question types + overall; columns = metric × system (systems side by side).
    Systems whose whole group is absent are left out (returned as the second value)."""
    metrics = [m.name for m in METRICS if m.group == group]
    systems, absent = [], []
    for s in result.systems:
        t = result.tables[s]
        rows = [t["overall"]] + list(t["by_type"].values())
        (systems if any(r.get(m) is not None for r in rows for m in metrics) else absent).append(s)
    if not systems:
        return "", absent
    metrics = [m for m in metrics
               if any(result.tables[s]["overall"].get(m) is not None for s in systems)]
    n_key = "n_answerable" if group == "retrieval" else "n"
    header = ["type", "n"] + [f"{m} {s}" if len(systems) > 1 else m for m in metrics for s in systems]
    rows = []
    main_table = result.tables[result.main]
    scopes = list(main_table["by_type"]) + [OVERALL]
    for scope in scopes:
        cells, any_value = [], False
        for m in metrics:
            for s in systems:
                t = result.tables[s]
                row = t["overall"] if scope == OVERALL else t["by_type"].get(scope, {})
                v = row.get(m)
                any_value |= v is not None
                cells.append(fmt(v, m))
        if not any_value:
            continue
        row0 = main_table["overall"] if scope == OVERALL else main_table["by_type"][scope]
        label = f"**{scope}**" if scope == OVERALL else scope
        rows.append([label, str(row0.get(n_key, ""))] + cells)
    return _md_table(header, rows), absent


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _expected_retrieval(q: Question) -> str:
    quotes = " / ".join(f"「{x}」" for x in q.gold_quotes)
    cond = []
    if q.gold_all:
        cond.append("all quotes")
    if q.gold_docs_min > 1:
        cond.append(f"from ≥{q.gold_docs_min} docs")
    return quotes + (f" ({', '.join(cond)})" if cond else "")


def _first_hit(rec: QuestionRecord) -> str:
    if not rec.top:
        return "nothing retrieved"
    h = rec.top[0]
    return f"{h['chunk_id']} 「{_short(h['text'], 60)}」"


def failed_questions_md(result: EvalResult, system: str | None = None) -> str:
    system = system or result.main
    qs = {q.id: q for q in result.questions}
    recs = result.records[system]
    out = [f"## Failed questions ({system})", ""]
    misses = [r for r in recs if r.retrieval is not None and not r.retrieval.hit_at_5]
    out.append(f"### Retrieval: gold not in the top 5 ({len(misses)})")
    out.append("")
    for r in misses:
        q = qs[r.id]
        where = (f"criterion met at rank {r.retrieval.rank}" if r.retrieval.rank
                 else f"not met in the top {result.k}")
        found = (f"; quotes found: {' / '.join(r.retrieval.matched_quotes)}"
                 if r.retrieval.matched_quotes and r.retrieval.rank is None else "")
        out.append(f"- **{r.id}** ({r.type}) {r.question}  \n"
                   f"  expected: {_expected_retrieval(q)} · {where}{found}  \n"
                   f"  first: {_first_hit(r)}" + (f"  \n  error: {r.error}" if r.error else ""))
    if not misses:
        out.append("none")
    if result.can_ask.get(system):
        wrong = [r for r in recs if r.answer is not None and not r.answer.fully_right]
        out += ["", f"### Answers not fully right ({len(wrong)})", ""]
        for r in wrong:
            q, a = qs[r.id], r.answer
            if not q.answerable:
                expected = "a refusal (the documents do not answer this)"
            else:
                expected = "facts " + ", ".join(f"「{f}」" for f in q.answer_facts)
            problem = ("refused" if a.refused and q.answerable
                       else "answered instead of refusing" if not q.answerable
                       else "missing " + ", ".join(f"「{f}」" for f in a.facts_missing))
            out.append(f"- **{r.id}** ({r.type}) {r.question}  \n"
                       f"  expected: {expected} · {problem}  \n"
                       f"  answer: 「{_short(a.text, 100)}」 · first hit: {_first_hit(r)}"
                       + (f"  \n  error: {r.error}" if r.error else ""))
        if not wrong:
            out.append("none")
    return "\n".join(out)


def report_markdown(result: EvalResult, report: dict) -> str:
    qinfo = report["questions"]
    lines = [
        f"# Evaluation {result.timestamp}",
        "",
        f"- questions: {qinfo['count']} ({qinfo['answerable']} answerable), hash `{qinfo['hash']}`"
        + (f", file `{qinfo['path']}`" if qinfo["path"] else ""),
        "- by type: " + ", ".join(f"{t} {n}" for t, n in qinfo["by_type"].items()),
        f"- systems: {', '.join(result.systems)} (main: **{result.main}**); search depth k={result.k}",
        f"- primary metric: **{result.primary_metric}**",
        f"- git commit: `{report['git_commit'] or 'unknown'}`" + (" (dirty)" if report["git_dirty"] else ""),
        f"- index manifest hash: `{report['manifest_hash'] or 'none'}`",
        "",
        "Absent metrics (a system that cannot answer) are shown as —. "
        "Retrieval metrics count answerable questions only.",
        "",
        "## Overall",
        "",
    ]
    rows = []
    for m in METRICS:
        values = [result.tables[s]["overall"].get(m.name) for s in result.systems]
        if all(v is None for v in values):
            continue
        label = f"**{m.name}**" if m.name == result.primary_metric else m.name
        rows.append([label] + [fmt(v, m.name) for v in values])
    lines += [_md_table(["metric"] + result.systems, rows), ""]
    for group in GROUPS:
        table, absent = _group_table(result, group)
        lines += [f"## {group.capitalize()}", ""]
        if table:
            lines += [table, ""]
        if absent:
            lines += [f"No {group} metrics for: {', '.join(absent)}.", ""]
    if result.deltas is not None:
        lines += ["## Baseline", "", "```", format_deltas(result.deltas), "```", ""]
    if result.threshold_failures:
        lines += ["## Threshold failures", ""] + [f"- {f}" for f in result.threshold_failures] + [""]
    for s in result.systems:
        errs = result.errors(s)
        if errs:
            lines += [f"## Errors ({s})", ""] + [f"- {r.id}: {r.error}" for r in errs] + [""]
    lines += [failed_questions_md(result), ""]
    return "\n".join(lines)


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")


def write_chart(result: EvalResult, path: str | Path) -> Path:
    """Grouped bars per question type: hit@5, mrr@10 and (when any system answers) fact_recall;
    one colour per system. ASCII labels only, so no CJK font is needed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = ["hit@5", "mrr@10"]
    if any(result.tables[s]["overall"].get("fact_recall") is not None for s in result.systems):
        metrics.append("fact_recall")
    scopes = list(result.tables[result.main]["by_type"]) + [OVERALL]
    fig = Figure(figsize=(max(8.0, 1.1 * len(scopes) + 2) + 1.8, 3.2 * len(metrics)))
    FigureCanvasAgg(fig)
    colors = [f"C{i % 10}" for i in range(len(result.systems))]
    width = 0.8 / len(result.systems)
    for mi, m in enumerate(metrics):
        ax = fig.add_subplot(len(metrics), 1, mi + 1)
        shown = [sc for sc in scopes if any(
            (result.tables[s]["overall"] if sc == OVERALL else result.tables[s]["by_type"].get(sc, {})).get(m)
            is not None for s in result.systems)]
        missing: list[str] = []
        for si, s in enumerate(result.systems):
            xs, ys = [], []
            for xi, sc in enumerate(shown):
                row = result.tables[s]["overall"] if sc == OVERALL else result.tables[s]["by_type"].get(sc, {})
                v = row.get(m)
                if v is not None:  # absent values get no bar (not a zero bar)
                    xs.append(xi - 0.4 + width * (si + 0.5))
                    ys.append(v)
            if ys:
                ax.bar(xs, ys, width=width, color=colors[si], label=_ascii(s))
            else:
                missing.append(_ascii(s))
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([_ascii(sc) for sc in shown], rotation=20, ha="right", fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel(m)
        ax.grid(axis="y", alpha=0.3)
        if mi == 0:
            ax.set_title(_ascii(f"evaluation {result.timestamp} (primary: {result.primary_metric})"))
        if mi == 0 or missing:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        if missing:
            ax.text(0.01, 0.95, "absent for: " + ", ".join(missing), transform=ax.transAxes,
                    fontsize=8, va="top")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, format="png", dpi=100)
    return path


def _stem(result: EvalResult, out_dir: Path) -> str:
    try:
        ts = datetime.fromisoformat(result.timestamp).strftime("%Y%m%d-%H%M%S")
    except ValueError:
        ts = time.strftime("%Y%m%d-%H%M%S")
    ts = f"{ts}-{result.tag}" if result.tag else ts
    stem, n = ts, 2
    while any((out_dir / f"{stem}{ext}").exists() for ext in (".json", ".md", ".png")):
        stem, n = f"{ts}-{n}", n + 1
    return stem


def write_reports(result: EvalResult, out_dir: str | Path, manifest: dict | None = None,
                  config: dict | None = None) -> ReportPaths:
    """<timestamp>.json (everything), <timestamp>.md (readable tables and failed questions) and
    <timestamp>.png (chart) in out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if manifest is not None:
        result.manifest = manifest
    if config is not None:
        result.config = config
    stem = _stem(result, out_dir)
    report = report_dict(result, manifest, config)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n",
                         encoding="utf-8")
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(report_markdown(result, report), encoding="utf-8")
    try:
        png_path: Path | None = write_chart(result, out_dir / f"{stem}.png")
    except ImportError:
        png_path = None
    result.report_paths = ReportPaths(json=json_path, md=md_path, png=png_path)
    return result.report_paths


def format_deltas(deltas: Sequence[Delta], min_change: float = 0.005) -> str:
    """Overall: every metric. Per type: only changes of at least `min_change` and regressions."""
    source = getattr(deltas, "source", "")
    lines = [f"vs baseline {source}".rstrip()]
    for note in getattr(deltas, "notes", []):
        lines.append(f"NOTE: {note}")
    rows, hidden = [], 0
    for d in deltas:
        shown = d.scope == OVERALL or d.regression or d.diff is None or abs(d.diff) >= min_change
        if not shown:
            hidden += 1
            continue
        change = "n/a" if d.diff is None else "= 0.000" if d.diff == 0 else f"{d.arrow} {d.diff:+.3f}"
        rows.append([d.scope, d.metric, fmt(d.baseline), fmt(d.current), change,
                     "REGRESSION" if d.regression else ""])
    if rows:
        lines.append(_table(["scope", "metric", "base", "now", "change", ""], rows, left=2))
    if hidden:
        lines.append(f"({hidden} per-type values that changed by less than {min_change} are not shown)")
    regs = [d for d in deltas if d.regression]
    lines.append(f"{len(regs)} regression(s) (worse by more than {REGRESSION_DROP})"
                 if regs else "no regressions")
    return "\n".join(lines)
