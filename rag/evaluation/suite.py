"""`make eval` (`python -m rag eval`): the evaluation suite, two runs and their comparison.

- **five**: the five original documents (`corpus.docs`, the default index) with the original
  questions (`eval/questions.jsonl`), every reference system, compared with `eval/baseline.json`;
- **full**: those five plus the fixture documents of 37 formats and places (`tests/fixtures/docs`),
  copied into `var/eval/corpus` and indexed in `var/eval/index` (incrementally, embeddings
  cached), with every question (`questions.jsonl` + `questions_ext.jsonl`), reported per split
  (`dev` chooses thresholds and rules; `test` only reports), per type and per refusal rule,
  compared with `eval/baseline-full.json`;
- and the original questions on both corpora side by side, so that a maintainer sees when adding
  documents hurts old questions.
`--set FILE` runs one question set on the default index instead (the previous behaviour).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Config
from rag.evaluation.metrics import aggregate
from rag.evaluation.report import compared_table
from rag.evaluation.systems import ALL_SYSTEMS, build_systems

FIVE_QUESTIONS = "eval/questions.jsonl"
EXT_QUESTIONS = "eval/questions_ext.jsonl"
FIXTURE_DOCS = "tests/fixtures/docs"
FULL_DIR = "var/eval"


@dataclass
class SuiteRun:
    name: str
    questions: list[str]
    systems: list[str]
    baseline: str
    corpus: list[str] = field(default_factory=list)  # folders; empty: the configured index as it is


def default_suite(cfg: Config, systems: list[str] | None = None) -> list[SuiteRun]:
    return [
        SuiteRun("five", [FIVE_QUESTIONS], systems or ALL_SYSTEMS, "eval/baseline.json"),
        SuiteRun("full", [FIVE_QUESTIONS, EXT_QUESTIONS], ["ours", "bm25"], "eval/baseline-full.json",
                 corpus=[cfg.corpus.docs, FIXTURE_DOCS]),
    ]


def sync_corpus(folders: list[Path], target: Path) -> Path:
    """Copy the supported files of `folders` into `target` (flat: their names must differ), keeping
    unchanged copies and removing what is no longer there; returns `target`."""
    from rag.ingest.corpus import iter_corpus

    target.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for folder in folders:
        for p in iter_corpus(folder):
            if p.name in wanted:
                raise ValueError(f"{p.name} is in two evaluation corpus folders")
            wanted[p.name] = p
    for old in target.iterdir():
        if old.is_file() and old.name not in wanted:
            old.unlink()
    for name, src in wanted.items():
        dst = target / name
        if not dst.exists() or dst.stat().st_size != src.stat().st_size or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)
    return target


def _pipeline(cfg: Config, run: SuiteRun, say):
    from dataclasses import replace

    from rag.index.builder import IndexBuilder
    from rag.pipeline import Pipeline

    if not run.corpus:
        return Pipeline.from_config(cfg)
    root = cfg.resolve(FULL_DIR)
    docs = sync_corpus([cfg.resolve(f) for f in run.corpus], root / "corpus")
    index_dir = root / "index"
    say(f"{run.name}: indexing {docs} (only new or changed files) …")
    IndexBuilder(cfg).build(docs, index_dir)
    run_cfg = replace(cfg, corpus=replace(cfg.corpus, docs=str(docs)), index=replace(cfg.index, dir=str(index_dir)))
    return Pipeline.from_config(run_cfg, index_dir)


def run_suite(args, cfg: Config) -> int:
    from rag.evaluation.runner import evaluate_and_report

    def say(msg: str) -> None:
        if not args.json:
            print(msg, file=sys.stderr)

    names = args.pipeline or None
    if args.set:
        suite = [SuiteRun("custom", args.set, names or ALL_SYSTEMS, args.baseline or "eval/baseline.json")]
    else:
        suite = [r for r in default_suite(cfg, names) if not args.suite or r.name in args.suite]
    code, results, lines = 0, {}, []
    for run in suite:
        pipeline = _pipeline(cfg, run, say)
        systems = ["ours"] + [n for n in run.systems if n != "ours"]
        built = build_systems(pipeline, systems, answers=not args.no_answers, progress=say)
        result, summary, rc = evaluate_and_report(
            [cfg.resolve(q) for q in run.questions], built, cfg.resolve(args.out), cfg.resolve(run.baseline),
            pipeline.index.manifest, cfg.to_dict(), save_baseline=args.save_baseline, fail_under=args.fail_under,
            tag=run.name)
        results[run.name] = result
        code = max(code, rc)
        lines += [f"==== {run.name}: {', '.join(run.questions)} on {pipeline.index.dir}", summary, ""]
    if "five" in results and "full" in results:
        five, full = results["five"], results["full"]
        ids = {q.id for q in five.questions}
        old_in_full = [r for r in full.records["ours"] if r.id in ids]
        lines += ["==== the original questions on the five documents and on the full corpus",
                  compared_table({"five documents": five.tables["ours"]["overall"],
                                  "full corpus": aggregate(old_in_full, True)})]
    if args.json:
        import json

        print(json.dumps({name: {"tables": r.tables, "threshold_failures": r.threshold_failures,
                                 "reports": {k: str(v) for k, v in vars(r.report_paths).items()} if r.report_paths else {}}
                          for name, r in results.items()}, ensure_ascii=False, default=str))
    else:
        print("\n".join(lines))
    return code
