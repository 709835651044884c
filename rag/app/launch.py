"""Starting the web app safely: where it listens, who may log in, and opening the pipeline.

`python app.py`, `python -m rag.app` and `python -m rag serve` all run `main`: options
`--host`, `--port`, `--config` (the [app] keys), then rag.toml and RAG_APP_* variables; Gradio's
own GRADIO_SERVER_NAME / GRADIO_SERVER_PORT are honoured when the RAG_APP_* ones are not set.
The app faces the public, so binding anything but a loopback address without a login is
refused (`UnsafeLaunch`) unless RAG_APP_ALLOW_PUBLIC=1 ([app] allow_public) says it is meant
to be open, in which case a warning is printed. GRADIO_SHARE and other switches that would
widen access are overridden by explicit launch arguments. The API (`rag.app.api`: the
OpenAI-compatible chat API and Dify's /retrieval) is served on the same port; beyond localhost
it needs API keys (RAG_API_KEYS), without them it refuses every call.
"""

from __future__ import annotations

import argparse
import os
import sys

from rag.app.access import api_warnings, is_loopback
from rag.app.login import MIN_PUBLIC_PASSWORD, is_hashed
from rag.config import Config, load_config
from rag.errors import ConfigError, UnsafeLaunch

__all__ = ["app_config", "check_launch", "is_loopback", "launch_kwargs", "main", "parse_auth"]


def parse_auth(value: str) -> tuple[str, str] | None:
    """"user:password" (or "user:pbkdf2_sha256$…", see rag.app.login) → (user, password);
    "" → None. Malformed values are refused."""
    value = (value or "").strip()
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user.strip() or not password:
        raise UnsafeLaunch("RAG_APP_AUTH / [app] auth must be \"user:password\" (both non-empty)")
    return user.strip(), password


def check_launch(cfg: Config) -> list[str]:
    """Warnings to print before starting; UnsafeLaunch when the app must not start."""
    auth = parse_auth(cfg.app.auth)
    host = cfg.app.host
    warnings: list[str] = []
    if not 1 <= int(cfg.app.port) <= 65535:
        raise UnsafeLaunch(f"port {cfg.app.port} is not a valid TCP port (RAG_APP_PORT)")
    if int(cfg.app.concurrency) < 1:
        raise UnsafeLaunch(f"[app] concurrency must be at least 1, got {cfg.app.concurrency}")
    from rag.app.api_base import check_api_config

    check_api_config(cfg)
    warnings += api_warnings(cfg)
    if is_loopback(host):
        return warnings
    if auth is None:
        if not cfg.app.allow_public:
            raise UnsafeLaunch(
                f"refusing to listen on {host} without a login: anyone who can reach this machine could use the app. "
                "Set RAG_APP_AUTH=user:password (or [app] auth in rag.toml), or listen on 127.0.0.1; "
                "set RAG_APP_ALLOW_PUBLIC=1 only if the app is really meant to be open to everyone.")
        warnings.append(f"WARNING: listening on {host} WITHOUT a login (RAG_APP_ALLOW_PUBLIC=1): "
                        "anyone who can reach this machine can use the app and write feedback.")
    else:
        if not is_hashed(auth[1]) and len(auth[1]) < MIN_PUBLIC_PASSWORD:
            raise UnsafeLaunch(
                f"the login password is shorter than {MIN_PUBLIC_PASSWORD} characters: too easy to guess for an app on "
                f"{host}. Use a longer one, or a hashed one (python -m rag hash-password)")
        warnings.append(f"note: listening on {host} over plain HTTP; put it behind an HTTPS proxy "
                        "so that the password is not sent in clear text.")
    return warnings


def _login(cfg: Config):
    """Gradio's auth: a `Login` check (hashed or plain password, throttled per user), or None."""
    auth = parse_auth(cfg.app.auth)
    if auth is None:
        return None
    from rag.app.login import Login

    return Login(*auth)


def open_pipeline(cfg: Config, index_dir=None):
    """The pipeline, or the exception that prevented opening it (shown in the page)."""
    from rag.errors import IndexProblem
    from rag.pipeline import Pipeline

    try:
        return Pipeline.from_config(cfg, index_dir)
    except IndexProblem as e:
        return e


def launch_kwargs(cfg: Config, demo=None, **overrides) -> dict:
    """Arguments for `Blocks.launch` from the configuration (theme and CSS included). With the
    `demo` of `build_app`, its API routes are put on Gradio's own FastAPI app, before Gradio's
    routes, so that the page and the API share one port, process and pipeline."""
    from rag.app.ui import launch_style

    kw = dict(
        server_name=cfg.app.host,
        server_port=int(cfg.app.port),
        auth=_login(cfg),
        auth_message="请输入账号和密码" if cfg.app.auth else None,
        share=False,
        show_error=False,
        ssr_mode=False,
        mcp_server=False,
        enable_monitoring=False,  # no /monitoring dashboard
        max_file_size="1kb",  # the app has no upload component: /gradio_api/upload takes nothing real
        state_session_capacity=int(cfg.app.max_sessions),  # sessions whose state is kept (LRU)
        max_threads=max(40, int(cfg.app.concurrency) * 4),
        footer_links=[],  # no "通过 API 使用 / 使用 Gradio 构建 / 设置" footer
        run_history=False,  # Gradio would keep every question in the browser's run history
        **launch_style(),
    )
    from starlette.middleware import Middleware

    from rag.app.login import LoginThrottle

    kw["app_kwargs"] = {"middleware": [Middleware(LoginThrottle)]}  # failed logins throttled per client
    api = getattr(demo, "rag_api", None)
    if api is not None:
        kw["app_kwargs"]["routes"] = list(api.routes)
    kw.update(overrides)
    return kw


def warm_up(pipeline) -> None:
    """Load the embedding model, retriever and answerer in a background thread, so that the
    first visitor does not wait for them (nothing is loaded at import time)."""
    import logging
    import threading

    if pipeline is None or isinstance(pipeline, Exception):
        return

    def run():
        try:
            pipeline.ask("法治政府建设")
            pipeline.index.tokenizer.warm(background=False)  # questions never wait on dictionary lookups
        except Exception as e:  # the page reports problems when a question is asked
            logging.getLogger("rag.web").warning("warm-up failed: %s", e)

    threading.Thread(target=run, name="rag-warm-up", daemon=True).start()


def app_config(host: str | None = None, port: int | None = None, config: str | None = None,
               env: dict | None = None) -> Config:
    """The configuration the app runs with (see the module docstring for the precedence)."""
    env = os.environ if env is None else env
    overrides: dict = {}
    if env.get("GRADIO_SERVER_NAME") and not env.get("RAG_APP_HOST"):
        overrides["app.host"] = env["GRADIO_SERVER_NAME"]
    if env.get("GRADIO_SERVER_PORT") and not env.get("RAG_APP_PORT"):
        overrides["app.port"] = env["GRADIO_SERVER_PORT"]
    if host is not None:
        overrides["app.host"] = host
    if port is not None:
        overrides["app.port"] = port
    return load_config(config, overrides=overrides, env=env)


def parser(prog: str = "python app.py") -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description="法治政府建设文件问答: the web app (Gradio).")
    ap.add_argument("--host", help="address to listen on ([app] host, RAG_APP_HOST; default 127.0.0.1)")
    ap.add_argument("--port", type=int, help="TCP port ([app] port, RAG_APP_PORT; default 7860)")
    ap.add_argument("--config", help="configuration file (default rag.toml, or RAG_CONFIG)")
    return ap


def main(argv: list[str] | None = None, prog: str = "python app.py") -> int:
    """Start the app; returns an exit status (2 for a bad launch configuration)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # forced: no version check or analytics calls
    args = parser(prog).parse_args(argv)
    try:
        cfg = app_config(args.host, args.port, args.config)
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

    demo = build_app(pipeline, cfg)
    demo.launch(**launch_kwargs(cfg, demo))
    return 0
