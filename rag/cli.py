"""`python -m rag …`: a thin command line over the pipeline.

With --json every command prints JSON lines whose shape does not depend on other flags;
without it, text for a person. Errors print one line on stderr and exit non-zero (1 for a
runtime problem, 2 for bad usage); set RAG_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

from rag.config import Config, load_config
from rag.errors import EXIT_ERROR, CLIError, RagError, guarded
from rag.ingest.corpus import check_member


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _progress_printer(enabled: bool):
    last = {"t": 0.0}

    def show(stage: str, done: int, total: int) -> None:
        if not enabled:
            return
        now = time.monotonic()
        if done < total and now - last["t"] < 0.1:
            return
        last["t"] = now
        sys.stderr.write(f"\r{stage:>10}: {done}/{total}   ")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _config(args) -> Config:
    overrides = {"index.dir": getattr(args, "index", None)}
    if getattr(args, "docs", None):
        overrides["corpus.docs"] = args.docs
    cfg = load_config(getattr(args, "config", None), overrides=overrides)
    backend = getattr(args, "backend", None)
    if backend:
        from rag.index.backend import backend_name

        configured = backend_name(cfg.index)
        cfg.index.backend = backend
        wanted = backend_name(cfg.index)
        if wanted != configured and not getattr(args, "index", None):
            # another backend than the configured one, and no folder named: its own folder
            # (index-milvus/ beside index/), so that both can be built and compared
            cfg.index.dir = f"{cfg.index.dir.rstrip('/')}-{wanted}"
    return cfg


def _pipeline(args):
    from rag.pipeline import Pipeline

    cfg = _config(args)
    return Pipeline.from_config(cfg), cfg


class BadLine(CLIError):
    """One line of a --batch file that cannot be read; the batch goes on without it."""


def _read_batch(path: str) -> Iterator[dict | BadLine]:
    """The batch file's questions, one per line; a line that is not UTF-8, not JSON or not a
    question object comes as a BadLine naming its line number, and the rest is still read."""
    p = Path(path)
    if not p.is_file():
        raise CLIError(f"batch file not found: {path}")
    with open(p, "rb") as f:
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield BadLine(f"{path}, line {n}: not UTF-8 text")
                continue
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as e:
                yield BadLine(f"{path}, line {n}: not JSON ({e})")
                continue
            if not isinstance(item, dict) or "question" not in item:
                yield BadLine(f"{path}, line {n}: expected an object with \"id\" and \"question\"")
                continue
            yield {"id": item.get("id", n), "question": item["question"]}


def _batch(path: str, answer, empty: dict) -> int:
    """Run `answer(question) -> dict` for each line of a batch file, printing one JSON line per
    question (errors in it as "error"); exit status 1 when a line could not be read."""
    bad = 0
    for item in _read_batch(path):
        if isinstance(item, BadLine):
            bad += 1
            print(f"error: {item}", file=sys.stderr)
            continue
        try:
            _print_json({"id": item["id"], **answer(item["question"])})
        except RagError as e:
            _print_json({"id": item["id"], **empty, "error": str(e)})
    return EXIT_ERROR if bad else 0


def _count(lo: int, hi: int):
    """An argparse type: a whole number in [lo, hi]."""
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError(f"must be between {lo} and {hi}, got {n}")
        return n
    return parse


# ---------------------------------------------------------------- commands

def _writing_index(index_dir: Path):
    """Turn a failed write (full disk, read-only folder, SQLite refusing to grow) into one line
    that says the previous index still serves (builds swap the manifest last)."""
    import sqlite3
    from contextlib import contextmanager

    @contextmanager
    def guard():
        try:
            yield
        except (OSError, sqlite3.Error) as e:
            full = getattr(e, "errno", None) == errno.ENOSPC or "disk is full" in str(e)
            why = "the disk is full" if full else (getattr(e, "strerror", None) or str(e) or type(e).__name__)
            raise CLIError(f"could not write the index in {index_dir}: {why}; the previous index is still in use") from None

    return guard()


def cmd_build(args) -> int:
    from rag.index.builder import IndexBuilder

    cfg = _config(args)
    docs = cfg.resolve(cfg.corpus.docs)
    index_dir = cfg.resolve(cfg.index.dir)
    builder = IndexBuilder(cfg, progress=_progress_printer(sys.stderr.isatty() and not args.json))
    with _writing_index(index_dir):
        report = builder.build(docs, index_dir, full=args.full)
    return _report_build(report, args.json)


def _report_build(report, as_json: bool) -> int:
    if as_json:
        for d in report.documents:
            _print_json({"doc_id": d.doc_id, "path": d.path, "status": d.status, "reason": d.reason,
                         "sections": d.sections, "chunks": d.chunks, "duties": d.duties})
        _print_json({"summary": report.summary(), "version": report.version, "chunks": report.chunks,
                     "seconds": round(report.seconds, 3)})
    else:
        for d in report.documents:
            if d.status == "failed":
                print(f"failed: {d.reason}", file=sys.stderr)
            elif d.status != "unchanged":
                print(f"{d.status:>9}  {d.doc_id}  {d.sections} sections, {d.chunks} chunks, {d.duties} duties")
        print(report.summary())
    return EXIT_ERROR if report.count("failed") else 0


def _within(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _scanned(rel: Path) -> bool:
    """Whether the corpus scan (`load.iter_corpus`) reads the file at `rel` inside the corpus
    folder: names starting with "." or "~$" and hidden folders are skipped."""
    return not rel.name.startswith((".", "~$")) and not any(part.startswith(".") for part in rel.parts[:-1])


def _plan_add(raw: str, docs: Path) -> tuple[Path, Path | None]:
    """(file to index, file to copy it from or None) for one `add` argument; CLIError when the
    file must not be added. Only the corpus folder is ever written, never through a link."""
    from rag.ingest.load import SUPPORTED

    p = Path(raw)
    if not p.is_file():
        raise CLIError(f"not a file: {raw}")
    if p.suffix.lower() not in SUPPORTED:
        raise CLIError(f"{raw}: unsupported format (supported: {' '.join(SUPPORTED)})")
    root = docs.resolve()
    real = p.resolve()
    if _within(real, root):
        if not _scanned(real.relative_to(root)):
            raise CLIError(f"{raw}: hidden files and files in hidden folders are not part of the corpus; move it first")
        check_member(real, docs)  # not a hard link to a file elsewhere
        return real, None
    if p.is_symlink() and _within(p.parent.resolve(), root):
        raise CLIError(f"{raw} is a link to a file outside the corpus folder {docs}; add the file itself")
    if not _scanned(Path(p.name)):
        raise CLIError(f"{raw}: names starting with '.' or '~$' are skipped by the corpus scan; rename it first")
    dest = docs / p.name
    if dest.is_symlink():
        raise CLIError(f"{dest} is a link; refusing to write through it")
    if dest.exists():
        if not dest.is_file() or dest.read_bytes() != p.read_bytes():
            raise CLIError(f"{dest} already exists with other content; rename {p.name} first")
        return dest, None
    return dest, p


def cmd_add(args) -> int:
    import secrets
    import shutil

    from rag.index.builder import IndexBuilder

    cfg = _config(args)
    docs = cfg.resolve(cfg.corpus.docs)
    plans = [_plan_add(raw, docs) for raw in args.paths]  # every file checked before any is copied
    copies = [dest for dest, source in plans if source is not None]
    twice = sorted({d.name for d in copies if copies.count(d) > 1})
    if twice:
        raise CLIError(f"several files named {', '.join(twice)}: they would overwrite each other in {docs}")
    for dest, source in plans:  # parsed before anything is copied: a file that cannot be indexed stays out
        _check_parses(source or dest, cfg)
    copied: list[Path] = []
    try:
        for dest, source in plans:
            if source is None:
                continue
            tmp = dest.with_name(f".{dest.name}.adding-{secrets.token_hex(4)}")  # hidden: the scan skips it
            try:
                docs.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, tmp)
                os.replace(tmp, dest)  # a full disk leaves no half-copied document in the corpus
                copied.append(dest)
            except OSError as e:
                tmp.unlink(missing_ok=True)
                why = "the disk is full" if e.errno == errno.ENOSPC else (e.strerror or str(e))
                raise CLIError(f"cannot copy {source} into {docs}: {why}; the previous index is still in use") from None
        index_dir = cfg.resolve(cfg.index.dir)
        with _writing_index(index_dir):
            report = IndexBuilder(cfg).add([dest for dest, _ in plans], docs, index_dir)
        failed = {d.path for d in report.documents if d.status == "failed"}
        for dest in copied:  # a copy that was not indexed leaves nothing behind
            if str(dest) in failed or dest.name in failed:
                dest.unlink(missing_ok=True)
    except BaseException:
        for dest in copied:  # another build running, a full disk…: nothing stays in the corpus
            dest.unlink(missing_ok=True)
        raise
    return _report_build(report, args.json)


def _check_parses(path: Path, cfg) -> None:
    """CLIError (one line) unless `path` loads, cleans and chunks: checked before it is copied."""
    from rag.errors import IngestError, LoadError
    from rag.ingest.chunk import OutlineChunker
    from rag.ingest.document import load_document, process
    from rag.ingest.load import Limits

    try:
        process(load_document(Path(path), Path(path).parent, Limits.of(cfg.corpus)),
                OutlineChunker(cfg.chunk.max_chars, cfg.chunk.min_chars))
    except (IngestError, LoadError) as e:
        raise CLIError(f"{path} cannot be indexed: {e}") from None


REMOVED_DIR = ".removed"  # removed documents' files, kept out of the corpus scan


def _set_aside(rel_path: str, docs: Path) -> Path | None:
    """Move a removed document's file into <corpus>/.removed/ so that `build` does not add it
    back; None when there is nothing (inside the corpus folder) to move."""
    root = docs.resolve()
    src = docs / rel_path
    if not rel_path or src.is_symlink() or not src.is_file() or not _within(src.resolve(), root):
        return None
    dest = docs / REMOVED_DIR / rel_path
    if dest.exists() or dest.is_symlink():
        dest = dest.with_name(f"{dest.stem}.{time.strftime('%Y%m%dT%H%M%S')}{dest.suffix}")
    if not _within(dest.parent.resolve(), root):
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)
    return dest


def _resolve_doc_id(given: str, indexed: dict) -> str:
    """A doc_id as given, or the one document whose id without its extension it names
    (`remove plan` when only plan.txt is indexed); CLIError otherwise, naming the choices."""
    if given in indexed:
        return given
    stem = [d for d in indexed if given and Path(d).with_suffix("").as_posix() == given]
    if len(stem) == 1:
        return stem[0]
    if len(stem) > 1:
        raise CLIError(f"{given!r} names several documents ({', '.join(sorted(stem))}); give the full doc_id")
    raise CLIError(f"no document {given!r} in the index; `python -m rag list` shows the doc_ids")


def cmd_remove(args) -> int:
    from rag.errors import IndexMissing
    from rag.index.builder import IndexBuilder
    from rag.index.layout import read_manifest

    cfg = _config(args)
    docs, index_dir = cfg.resolve(cfg.corpus.docs), cfg.resolve(cfg.index.dir)
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexMissing(f"no index in {index_dir}; build it with `make index` (python -m rag build)")
    indexed = manifest.get("documents", {})
    args.doc_ids = [_resolve_doc_id(d, indexed) for d in args.doc_ids]
    with _writing_index(index_dir):
        report = IndexBuilder(cfg).remove(args.doc_ids, docs, index_dir)
    for doc_id in dict.fromkeys(args.doc_ids):
        try:
            moved = _set_aside(str(indexed[doc_id].get("path", "")), docs)
        except OSError as e:
            print(f"warning: {doc_id} stays in {docs} ({e.strerror or e}); the next build will add it back",
                  file=sys.stderr)
            continue
        if moved is not None:
            print(f"note: moved {doc_id}'s file to {moved} (out of the corpus folder's scan)", file=sys.stderr)
    return _report_build(report, args.json)


def cmd_docs(args) -> int:
    from rag.index.reader import Index

    cfg = _config(args)
    index = Index.open(cfg.resolve(cfg.index.dir), cfg)
    if index.warning:
        print(f"warning: {index.warning}", file=sys.stderr)
    docs = index.documents()
    for d in docs:
        if args.json:
            _print_json(d.to_dict())
        else:
            m = d.meta
            chain = ", ".join(dict.fromkeys(x for x in (m.county, m.city, m.province) if x not in ("unknown", m.region))) or "unknown"
            extra = " · ".join(f"{k} {v}" for k, v in (("published", m.publish_date), ("index", m.index_no),
                                                      ("topic", m.topic)) if v != "unknown")
            print(f"{d.doc_id}  {m.title}{'  [draft]' if m.draft else ''}\n    {m.doc_type} · {m.region} ({m.level}, {chain}) · "
                  f"period {m.period} · {m.issuer} · {m.date} · {m.doc_number}"
                  f"{chr(10) + '    ' + extra if extra else ''}\n    {d.n_sections} sections, {d.n_chunks} chunks, "
                  f"{d.n_duties} responsibility notes")
    if not args.json:
        man = index.manifest
        print(f"index {man['version']} built {man['built_at']} with {man['embedding']['id']}, "
              f"{man['counts']['chunks']} chunks")
    return 0


def _hits_json(hits) -> list[dict]:
    return [h.to_dict() for h in hits]


def cmd_search(args) -> int:
    pipe, cfg = _pipeline(args)
    k = args.k
    if args.batch:
        if not args.json:
            raise CLIError("--batch needs --json")
        return _batch(args.batch, lambda q: {"hits": _hits_json(pipe.search(q, k, region=args.region,
                                                                            doc=args.doc).hits)}, {"hits": []})
    if args.question is None:
        raise CLIError("give a question, or --batch FILE.jsonl")
    result = pipe.search(args.question, k, region=args.region, doc=args.doc)
    if args.json:
        _print_json({"question": args.question, "hits": _hits_json(result.hits)})
        return 0
    if result.analysis.truncated:
        print(f"(question truncated to {cfg.question.max_chars} characters)")
    if result.analysis.unknown_places:
        print(f"note: no indexed document covers {'、'.join(result.analysis.unknown_places)}")
    for h in result.hits:
        print(f"[{h.rank}] {h.score:.3f}  {h.title}\n    {h.chunk.section or '(开头)'}\n    {h.chunk.text[:160]}")
    if not result.hits:
        print("no results")
    return 0


def cmd_departments(args) -> int:
    pipe, _ = _pipeline(args)
    rows = pipe.departments(args.query, k=args.k, region=args.region, doc=args.doc)
    for r in rows:
        if args.json:
            _print_json(r.to_dict())
        else:
            deadline = f" · 期限 {'、'.join(r.deadlines)}" if r.deadlines else ""
            support = f" · 配合 {'、'.join(r.support)}" if r.support else ""
            print(f"{r.measure}\n    牵头 {'、'.join(r.lead)}{support}{deadline}\n    {r.title} › {r.section}")
    if not rows and not args.json:
        print("no responsibility notes found")
    return 0


def cmd_ask(args) -> int:
    pipe, cfg = _pipeline(args)

    def one(question: str):
        return pipe.ask(question, region=args.region, doc=args.doc)

    if args.batch:
        if not args.json:
            raise CLIError("--batch needs --json")
        return _batch(args.batch, lambda q: one(q).to_dict(),
                      {"answer": "", "refused": False, "citations": [], "notice": ""})
    if args.question is None:
        raise CLIError("give a question, or --batch FILE.jsonl")
    a = one(args.question)
    if args.json:
        _print_json({"question": args.question, **a.to_dict()})
        return 0
    if a.notice:
        print(f"({a.notice})")
    print(a.text)
    if a.citations:
        print("\n来源:")
        for c in a.citations:
            page = f" 第{c.page}页" if c.page else ""
            print(f"[{c.n}] {c.title} › {c.section or '(开头)'}{page}\n    {c.text}")
    return 0


def cmd_eval(args) -> int:
    from rag.evaluation.suite import run_suite

    return run_suite(args, _config(args))


def cmd_bench(args) -> int:
    from rag.bench.harness import run_bench_command

    cfg = _config(args)
    if args.backend:
        os.environ["RAG_INDEX_BACKEND"] = cfg.index.backend  # the measured child processes use it too
    return run_bench_command(args, cfg)


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", help="index folder (default: [index] dir, i.e. index/)")
    common.add_argument("--config", help="configuration file (default: rag.toml or $RAG_CONFIG)")
    common.add_argument("--json", action="store_true", help="print JSON lines")
    common.add_argument("--backend", choices=["local", "milvus"],
                        help="search backend ([index] backend); another than the configured one uses "
                             "<index dir>-<backend>/ unless --index is given")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--region", help="only documents about this region (e.g. 陕西, 利通区)")
    filters.add_argument("--doc", help="only this document (doc_id, its prefix, or part of its title)")

    p = argparse.ArgumentParser(prog="python -m rag", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", parents=[common], help="build or update the index from the corpus folder")
    b.add_argument("--docs", help="corpus folder (default: [corpus] docs, i.e. data/docs/)")
    b.add_argument("--full", action="store_true", help="rebuild everything instead of only new or changed files")
    b.set_defaults(func=cmd_build)

    a = sub.add_parser("add", parents=[common], help="add or replace documents (copied into the corpus folder)")
    a.add_argument("paths", nargs="+")
    a.add_argument("--docs", help="corpus folder")
    a.set_defaults(func=cmd_add)

    r = sub.add_parser("remove", parents=[common],
                       help="remove documents from the index by doc_id (their files move to <corpus>/.removed/)")
    r.add_argument("doc_ids", nargs="+")
    r.add_argument("--docs", help="corpus folder")
    r.set_defaults(func=cmd_remove)

    for name in ("docs", "list"):
        d = sub.add_parser(name, parents=[common], help="the indexed documents and their metadata")
        d.add_argument("--docs", help="corpus folder the index was built from (as for build)")
        d.set_defaults(func=cmd_docs)

    s = sub.add_parser("search", parents=[common, filters], help="retrieve the best sections for a question")
    s.add_argument("question", nargs="?")
    s.add_argument("-k", type=_count(1, 100), default=5, help="how many sections (1-100)")
    s.add_argument("--batch", help="JSONL file of {\"id\", \"question\"}; prints one line per question")
    s.set_defaults(func=cmd_search)

    q = sub.add_parser("ask", parents=[common, filters], help="answer a question with citations")
    q.add_argument("question", nargs="?")
    q.add_argument("--batch", help="JSONL file of {\"id\", \"question\"}")
    q.set_defaults(func=cmd_ask)

    dp = sub.add_parser("departments", parents=[common, filters], help="who leads and supports each measure")
    dp.add_argument("--query", help="only measures matching this text (e.g. 营业执照)")
    dp.add_argument("-k", type=_count(1, 1000), default=20, help="how many measures with --query (1-1000)")
    dp.set_defaults(func=cmd_departments)

    e = sub.add_parser("eval", parents=[common], help="run the evaluation set and write reports")
    e.add_argument("--set", action="append", default=[], metavar="FILE",
                   help="run these question sets on the default index instead of the suite (repeatable)")
    e.add_argument("--suite", action="append", default=[], choices=["five", "full"],
                   help="run only this part of the suite (default: five and full)")
    e.add_argument("--out", default="eval/reports", help="report folder")
    e.add_argument("--baseline", default="", help="baseline for --set (default eval/baseline.json)")
    e.add_argument("--save-baseline", action="store_true", help="make this run the new baseline")
    e.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                   help="exit non-zero when the main system's metric is worse (repeatable)")
    e.add_argument("--pipeline", action="append", default=[], metavar="NAME",
                   help="systems to score (default: all): ours, naive, bm25, dense, lexical, ours-noregion, …")
    e.add_argument("--no-answers", action="store_true", help="score retrieval only")
    e.set_defaults(func=cmd_eval)

    bn = sub.add_parser("bench", parents=[common], help="speed and memory benchmarks (prints JSON and a table)")
    bn.add_argument("--sizes", default="10000,100000", help="synthetic index sizes (comma separated)")
    bn.add_argument("--million", action="store_true", help="also run the 1,000,000-chunk case")
    bn.add_argument("--out", default="", help="also write the JSON result to this file")
    bn.set_defaults(func=cmd_bench)

    hp = sub.add_parser("hash-password", help="print a hashed password for [app] auth (reads it from the terminal)")
    hp.set_defaults(func=cmd_hash_password)

    sv = sub.add_parser("serve", help="start the web app (the same as python app.py)")
    sv.add_argument("--host", help="address to listen on ([app] host, RAG_APP_HOST)")
    sv.add_argument("--port", type=int, help="TCP port ([app] port, RAG_APP_PORT)")
    sv.add_argument("--config", help="configuration file (default rag.toml, or RAG_CONFIG)")
    sv.set_defaults(func=cmd_serve)
    return p


def cmd_hash_password(args) -> int:
    import getpass

    from rag.app.login import hash_password

    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        raise CLIError("empty password")
    print(hash_password(password))
    return 0


def cmd_serve(args) -> int:
    from rag.app.launch import main as serve

    argv = [x for k in ("host", "port", "config") if getattr(args, k) is not None for x in (f"--{k}", str(getattr(args, k)))]
    return serve(argv, prog="python -m rag serve")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return guarded(lambda: args.func(args))
