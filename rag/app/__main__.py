"""`python -m rag.app [--host H] [--port P]`: the web app (see rag.app.launch)."""

import sys

from rag.app.launch import main

sys.exit(main(prog="python -m rag.app"))
