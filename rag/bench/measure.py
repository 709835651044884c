"""Measuring: the machine, timings as p50/p95 stats, peak RSS of child processes, disk use,
and the workload (evaluation questions plus each with its places swapped to other regions).
Jobs run in child processes (`python -m rag.bench child KIND SPEC`) so that each peak RSS
belongs to one job."""

from __future__ import annotations

import json
import os
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rag.config import ROOT

QUESTIONS_FILE = ROOT / "eval" / "questions.jsonl"
MILLION = 1_000_000


def cores() -> dict:
    try:
        aff = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        aff = list(range(os.cpu_count() or 1))
    return {"cpu_count": os.cpu_count(), "affinity": len(aff)}


def machine() -> dict:
    import faiss

    info = {**cores(), "affinity_cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "faiss": faiss.__version__,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    info["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    return info


def stats(ms: list[float]) -> dict:
    if not ms:
        return {"n": 0}
    a = np.asarray(ms, dtype=np.float64)
    return {"n": int(a.size), "p50": round(float(np.percentile(a, 50)), 2), "p95": round(float(np.percentile(a, 95)), 2),
            "mean": round(float(a.mean()), 2), "max": round(float(a.max()), 2)}


def median(xs: list[float]) -> float | None:
    return round(float(np.median(xs)), 3) if xs else None


def du(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def mb(n: int | float) -> float:
    return round(n / 1024 / 1024, 1)


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set (VmHWM) of a process. Not getrusage's ru_maxrss: Linux carries the
    parent's peak over fork and exec into it, so a small child would report the parent's."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    if pid == "self":
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return None


def log(msg: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # a normal installation caches bytecode; this sandbox may forbid it, which would make every
    # cold start compile the package again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_process(cmd: list[str], first_line: bool = False) -> dict:
    """Run a command; wall time, peak RSS of that process (wait4), its output. With
    `first_line`, also the time until its first line of stdout (a first result)."""
    import threading

    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = None
    out: list[str] = []
    err: list[str] = []
    if first_line:
        out.append(p.stdout.readline())
        first = time.perf_counter() - t0
    readers = [threading.Thread(target=lambda: out.append(p.stdout.read())),
               threading.Thread(target=lambda: err.append(p.stderr.read()))]
    for t in readers:
        t.start()
    peak = None
    while p.poll() is None:  # VmHWM only grows: the last reading is the peak (to ~50 ms)
        peak = peak_rss_mb(p.pid) or peak
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    for t in readers:
        t.join()
    return {"rc": p.returncode, "wall_s": wall, "first_line_s": first, "stdout": "".join(out), "stderr": "".join(err),
            "peak_rss_mb": peak}


def run_child(kind: str, spec: dict, timeout: float = 7200) -> dict:
    """`python -m rag.bench child KIND spec.json` → its JSON result, with its peak RSS."""
    spec_path = Path(spec["work"]) / f"spec-{kind}-{time.time_ns()}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    cmd = [sys.executable, "-m", "rag.bench", "child", kind, str(spec_path)]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=None, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if p.returncode != 0 or not lines:
        return {"error": f"child {kind} failed (exit {p.returncode})", "wall_s": round(wall, 2)}
    res = json.loads(lines[-1])
    res["process_wall_s"] = round(wall, 2)
    return res


def load_questions() -> list[str]:
    if not QUESTIONS_FILE.exists():
        return ["利通区行政执法公示由哪个部门负责?", "宁夏要求什么时候前实现区市县乡村五级网上政务全覆盖?",
                "陕西省法治政府建设的主要目标是什么?", "五原县2022年行政复议案件办理情况如何?"]
    qs = []
    for line in QUESTIONS_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip():
            qs.append(json.loads(line)["question"])
    return qs


def workload(questions: list[str]) -> list[str]:
    """The eval questions, then each again with its places swapped for other regions of the
    same level (questions about places the synthetic indexes cover, beyond the real five)."""
    from rag.text import places as rg

    by_level: dict[str, list] = {}
    for r in rg.gazetteer().values():
        by_level.setdefault(r.level, []).append(r)
    rnd = random.Random(7)
    out = list(questions)
    for q in questions:
        found = rg.find_regions(q)
        if not found:
            continue
        s = q
        for region, _, _ in sorted(found, key=lambda x: -x[1]):
            other = rnd.choice(by_level[region.level])
            s = s.replace(region.name, other.name).replace(region.short, other.short)
        out.append(s)
    return out


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "rag", *args]


def guarded(label: str, fn, *a, **k):
    """Run one measurement; a failure is recorded in the result (and printed), not fatal."""
    import traceback

    try:
        return fn(*a, **k)
    except Exception as e:
        traceback.print_exc()
        log(f"{label} failed: {type(e).__name__}: {e}")
        return {"error": f"{type(e).__name__}: {str(e)[:500]}"}
