"""The web app: `make run` or `python app.py` (http://127.0.0.1:7860 by default).

Host, port, login and concurrency come from rag.toml [app] or RAG_APP_HOST, RAG_APP_PORT,
RAG_APP_AUTH="user:password", RAG_APP_CONCURRENCY. Listening beyond localhost needs a login
(or RAG_APP_ALLOW_PUBLIC=1). A missing or outdated index is shown on the page.
"""

import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from rag.app.launch import check_launch, launch_kwargs, open_pipeline, warm_up  # noqa: E402
from rag.config import load_config  # noqa: E402
from rag.errors import ConfigError, UnsafeLaunch  # noqa: E402


def main() -> int:
    try:
        cfg = load_config()
        warnings = check_launch(cfg)
    except (ConfigError, UnsafeLaunch) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for w in warnings:
        print(w, file=sys.stderr)
    pipeline = open_pipeline(cfg)  # or the index error, which the page then shows
    if isinstance(pipeline, Exception):
        print(f"warning: {pipeline}", file=sys.stderr)
    warm_up(pipeline)  # load the models in the background

    from rag.app.ui import build_app

    build_app(pipeline, cfg).launch(**launch_kwargs(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
