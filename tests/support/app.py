"""Launching an app on a free local port in this process (the app tests' server)."""

from __future__ import annotations


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(demo, cfg) -> str:
    """Start `demo` (with its API routes) on a free local port in this process (threads), as
    `python app.py` does; returns its URL."""
    from rag.app.launch import launch_kwargs

    port = free_port()
    demo.launch(**launch_kwargs(cfg, demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                                quiet=True))
    return f"http://127.0.0.1:{port}/"
