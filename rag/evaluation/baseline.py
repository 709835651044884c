"""The baseline: the main system's tables saved with the hashes of the question set and the
index, the comparison of a run with it (deltas, regressions), and `--fail-under` thresholds."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from rag.evaluation.dataset import dict_hash
from rag.evaluation.metrics import (
    METRIC_BY_NAME,
    METRICS,
    OVERALL,
    REGRESSION_DROP,
    fmt,
)
from rag.evaluation.results import EvalResult


@dataclass
class Delta:
    scope: str  # "overall" or a question type
    metric: str
    baseline: float | None
    current: float | None
    diff: float | None  # current - baseline (None when either is absent)
    regression: bool  # worse by more than REGRESSION_DROP (direction per metric)

    @property
    def arrow(self) -> str:
        if self.diff is None:
            return "?"
        return "▲" if self.diff > 0 else "▼" if self.diff < 0 else "="


class Deltas(list):
    """A list of Delta with the notes of the comparison (baseline made from another question
    set or index, another system name, …)."""

    def __init__(self, items: Iterable[Delta] = (), notes: Iterable[str] = (), source: str = ""):
        super().__init__(items)
        self.notes = list(notes)
        self.source = source

    @property
    def regressions(self) -> list[Delta]:
        return [d for d in self if d.regression]


def _compared_metrics() -> list[str]:
    """Quality metrics (rates) are compared; counts and latency (machine-dependent) are not."""
    return [m.name for m in METRICS if m.kind == "rate"]


def baseline_dict(result: EvalResult, manifest: dict | None = None) -> dict:
    manifest = manifest if manifest is not None else result.manifest
    table = result.tables[result.main]
    return {
        "schema": 1,
        "kind": "baseline",
        "created": result.timestamp,
        "system": result.main,
        "git_commit": git_commit()[0],
        "k": result.k,
        "questions_hash": result.questions_hash,
        "manifest_hash": dict_hash(manifest),
        "manifest": manifest,
        "tables": {"overall": table["overall"], "by_type": table["by_type"]},
    }


def write_baseline(result: EvalResult, path: str | Path, manifest: dict | None = None) -> Path:
    """Write the main system's tables (overall and per type) as the new baseline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline_dict(result, manifest), ensure_ascii=False, indent=1) + "\n",
                    encoding="utf-8")
    return path


def _load_baseline(path: Path, main: str) -> tuple[dict, dict, list[str]]:
    """(baseline metadata, {"overall", "by_type"} table, notes). Accepts a baseline file or a
    full JSON report (then the main system's table, or the report's main system)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"baseline not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: baseline is not valid JSON ({e})") from None
    notes: list[str] = []
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict):
        raise ValueError(f"{path}: not a baseline or report (no 'tables')")
    if "overall" in tables:
        table, system = tables, data.get("system", "?")
    else:
        system = main if main in tables else data.get("main_system", "")
        if system not in tables:
            raise ValueError(f"{path}: report has no table for system {main!r}")
        table = tables[system]
    if system != main:
        notes.append(f"baseline is for system {system!r}, comparing with {main!r}")
    return data, table, notes


def compare(result: EvalResult, baseline_path: str | Path, manifest: dict | None = None) -> Deltas:
    """The main system's overall and per-type rate metrics against a baseline."""
    path = Path(baseline_path)
    data, table, notes = _load_baseline(path, result.main)
    if data.get("questions_hash") and data["questions_hash"] != result.questions_hash:
        notes.append(f"question set differs from the baseline's "
                     f"({data['questions_hash']} -> {result.questions_hash}): deltas mix both")
    manifest = manifest if manifest is not None else result.manifest
    base_manifest_hash = data.get("manifest_hash")
    cur_manifest_hash = dict_hash(manifest)
    if base_manifest_hash and cur_manifest_hash and base_manifest_hash != cur_manifest_hash:
        keys = _differing_keys(data.get("manifest") or {}, manifest or {})
        notes.append("index manifest differs from the baseline's"
                     + (f" (keys: {', '.join(keys)})" if keys else ""))
    if data.get("k") not in (None, result.k):
        notes.append(f"baseline used k={data['k']}, this run k={result.k}")
    deltas = []
    cur = result.tables[result.main]
    scopes = [(OVERALL, table.get("overall", {}), cur["overall"])]
    for t, row in cur["by_type"].items():
        scopes.append((t, table.get("by_type", {}).get(t, {}), row))
    for scope, base_row, cur_row in scopes:
        for m in _compared_metrics():
            b, c = base_row.get(m), cur_row.get(m)
            if b is None and c is None:
                continue
            diff = round(c - b, 6) if b is not None and c is not None else None
            worse = None if diff is None else (-diff if METRIC_BY_NAME[m].higher_is_better else diff)
            deltas.append(Delta(scope, m, b, c, diff, worse is not None and worse > REGRESSION_DROP))
    created = data.get("created", "?")
    return Deltas(deltas, notes, source=f"{path} ({data.get('system', result.main)}, {created})")


def _differing_keys(a: dict, b: dict) -> list[str]:
    keys = sorted(set(a) | set(b))
    return [k for k in keys if json.dumps(a.get(k), sort_keys=True, default=str)
            != json.dumps(b.get(k), sort_keys=True, default=str)]


def parse_threshold(spec: str) -> tuple[str, str, float]:
    """"hit@5=0.8" → ("hit@5", ">=", 0.8). `=` means "no worse than": >= for metrics where
    higher is better, <= for the others (refusal rates, counts, latency); `>=`/`<=` are explicit."""
    for op in (">=", "<=", "="):
        if op in spec:
            name, _, value = spec.partition(op)
            break
    else:
        raise ValueError(f"bad threshold {spec!r}: expected METRIC=VALUE, e.g. hit@5=0.8")
    name = name.strip()
    if name not in METRIC_BY_NAME:
        raise ValueError(f"unknown metric {name!r} in threshold {spec!r}; known: "
                         f"{', '.join(METRIC_BY_NAME)}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"bad threshold {spec!r}: {value.strip()!r} is not a number") from None
    if op == "=":
        op = ">=" if METRIC_BY_NAME[name].higher_is_better else "<="
    return name, op, number


def check_thresholds(result: EvalResult, specs: Iterable[str]) -> list[str]:
    """Failures (one line each) of the main system's overall metrics against METRIC=VALUE specs.
    An absent metric fails (it cannot be checked)."""
    parsed = [(spec, *parse_threshold(spec)) for spec in specs]
    failures = []
    for spec, name, op, limit in parsed:
        value = result.metric(name)
        if value is None:
            failures.append(f"{name} is absent for system {result.main} (threshold {spec})")
        elif (op == ">=" and value < limit) or (op == "<=" and value > limit):
            failures.append(f"{name} = {fmt(value, name)}, required {op} {limit:g} (system {result.main})")
    return failures


def git_commit() -> tuple[str | None, bool | None]:
    """(HEAD commit, working tree dirty) of the project, or (None, None) outside git."""
    from rag.config import ROOT

    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None, None
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10)
        return head.stdout.strip(), bool(status.stdout.strip()) if status.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None, None
