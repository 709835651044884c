"""A stand-in answerer for app tests (tests only): quotes the first sentence of the best hit.

It follows the answerer contract that `Pipeline.ask_stream` relies on: `condense(question,
history, pipeline) -> str` and `stream(question, standalone, result, pipeline, history)`
yielding text deltas, then one final `Answer` whose citation offsets point into the
document's clean text. The answer repeats the question, so tests can tell answers apart.
"""

from __future__ import annotations

import time

from rag.types import Answer, Citation


class EchoAnswerer:
    def __init__(self, delay: float = 0.0):
        self.delay = delay  # seconds per streamed piece (to make answers overlap)
        self.seen_history: list = []

    def condense(self, question, history, pipeline):
        self.seen_history.append(list(history))
        earlier = [c for role, c in history if role == "user"]
        return f"{earlier[-1]} {question}" if earlier else question

    def stream(self, question, standalone, result, pipeline, history):
        if not result.hits:
            yield Answer(question=question, text="资料中没有与该问题相关的内容。", refused=True)
            return
        hit = result.hits[0]
        chunk = hit.chunk
        cut = chunk.text.find("。")
        sentence = chunk.text[: cut + 1] if cut > 0 else chunk.text
        body = f"关于「{question}」:{sentence}[1]"
        for i in range(0, len(body), 8):
            if self.delay:
                time.sleep(self.delay)
            yield body[i:i + 8]
        cite = Citation(n=1, doc_id=chunk.doc_id, title=hit.title, section=chunk.section, text=sentence,
                        start=chunk.start, end=chunk.start + len(sentence), page=chunk.page)
        yield Answer(question=question, text=body, citations=[cite], hits=result.hits)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(demo, cfg) -> str:
    """Start `demo` on a free local port in this process (threads); returns its URL."""
    from rag.serve import launch_kwargs

    port = free_port()
    demo.launch(**launch_kwargs(cfg, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True))
    return f"http://127.0.0.1:{port}/"
