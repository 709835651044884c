"""Print the per-field accuracy of the ingest on the labelled fixtures.

    python scripts/fixture_accuracy.py [FIXTURES_DIR] [--details]

FIXTURES_DIR defaults to tests/fixtures (docs/ + expected/*.jsonl). --details lists every
failing check (fixture, field, expected and what the ingest produced).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag.ingest.accuracy import evaluate, format_table


def main(argv: list[str]) -> int:
    details = "--details" in argv
    args = [a for a in argv if not a.startswith("--")]
    folder = args[0] if args else "tests/fixtures"
    print(format_table(evaluate(folder), details=details))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
