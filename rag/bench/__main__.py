"""`python -m rag.bench child KIND SPEC`: one measured job in its own process (the parent is
`python -m rag bench`, which starts these so that each peak RSS belongs to one job)."""

import sys

from rag.bench.jobs import _child_main

if len(sys.argv) >= 4 and sys.argv[1] == "child":
    sys.exit(_child_main(sys.argv[2:]))
sys.exit("usage: python -m rag.bench child KIND SPEC (the parent is `python -m rag bench`)")
