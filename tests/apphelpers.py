"""Helpers for the app tests: a slowed-down wrapper around the real answerer, and launching
an app on a free port in this process."""

from __future__ import annotations

import time


class Slowed:
    """Wraps a real answerer: sleeps `delay` seconds before each streamed piece (so that
    concurrent answers overlap measurably) and records the history each question came with."""

    def __init__(self, inner, delay: float = 0.0):
        self.inner = inner
        self.delay = delay
        self.seen_history: list = []

    def stream(self, ev, history):
        self.seen_history.append(list(history))
        for event in self.inner.stream(ev, history):
            if isinstance(event, str) and self.delay:
                time.sleep(self.delay)
            yield event


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(demo, cfg) -> str:
    """Start `demo` on a free local port in this process (threads); returns its URL."""
    from rag.app.launch import launch_kwargs

    port = free_port()
    demo.launch(**launch_kwargs(cfg, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True))
    return f"http://127.0.0.1:{port}/"
