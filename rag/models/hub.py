"""Finding a model by hub name or local path, failing fast when neither is available.

The model hub is unreachable on many machines (offline offices, CI). A hub name is usable only
when it is in the local cache or the hub answers; otherwise we raise at once with a message
naming the setting to change, instead of letting a library retry for a minute.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import urllib.parse
import urllib.request

from rag.errors import ModelUnavailable

HUB_PROBE_TIMEOUT = 3.0  # seconds to decide whether the model hub can be reached


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().upper() in ("1", "ON", "YES", "TRUE")


def _hub_offline() -> bool:
    if _env_true("HF_HUB_OFFLINE") or _env_true("TRANSFORMERS_OFFLINE"):
        return True
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def _hub_reachable(timeout: float = HUB_PROBE_TIMEOUT) -> bool:
    """Whether a TCP connection to the hub (or the HTTPS proxy) opens within `timeout` seconds.
    Runs in a thread so that a slow DNS look-up cannot hold us longer."""
    from huggingface_hub import constants

    target = urllib.request.getproxies().get("https") or constants.ENDPOINT
    url = urllib.parse.urlsplit(target if "://" in target else "http://" + target)
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    if not host:
        return False
    ok: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return bool(ok)


def _looks_like_path(model: str) -> bool:
    return (
        model.startswith(("/", ".", "~"))
        or "\\" in model
        or model.count("/") > 1
        or bool(re.match(r"^[A-Za-z]:", model))
    )


def resolve_model(model: str, setting: str, probe_file: str = "config.json") -> tuple[str, bool]:
    """(what to load, load from local files only) for a local folder or a hub name.
    ModelUnavailable at once when the model can be neither found locally nor downloaded;
    `setting` names where the user sets the model (e.g. "[llm] model or RAG_LLM_MODEL")."""
    model = model.strip()
    if not model:
        raise ModelUnavailable(
            f"no model set: give a hub name or a local path in {setting}"
        )
    folder = os.path.expanduser(model)
    if os.path.isdir(folder):
        return folder, True
    if _looks_like_path(model):
        raise ModelUnavailable(f"cannot load model {model!r}: no such folder. Give a local model folder in {setting}.")
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(model, probe_file)
    except Exception:  # not a valid repo id
        raise ModelUnavailable(f"cannot load model {model!r}: neither a local folder nor a model hub name") from None
    if isinstance(cached, str):
        return model, True
    if _hub_offline() or not _hub_reachable():
        raise ModelUnavailable(
            f"cannot load model {model!r}: not found locally and the model hub is unreachable (offline)."
            f" Give a local path in {setting}."
        )
    return model, False
