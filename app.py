"""The web app: `make run` or `python app.py [--host H] [--port P]` (see rag/app/launch.py)."""
from rag.app.launch import main

if __name__ == "__main__":
    raise SystemExit(main())
