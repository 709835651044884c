"""Which torch device a model runs on.

"auto" picks the CUDA GPU when torch sees one and the CPU otherwise; "cpu", "cuda", "cuda:N" and
"mps" ask for one. The setting is checked before a model loads, so a typo or a GPU that is not
there is one clear line naming the setting, not a stack trace from inside torch. "cpu" never
imports torch.
"""

from __future__ import annotations

import re

from rag.errors import DeviceError

DEVICES = "auto, cpu, cuda, cuda:N or mps"


def resolve_device(requested: str, setting: str) -> str:
    """The device to load on for `requested`; `setting` names the option in messages."""
    req = (requested or "auto").strip().lower()
    if req == "cpu":
        return "cpu"
    if not re.fullmatch(r"auto|cuda(:\d+)?|mps", req):
        raise DeviceError(f"{setting} must be {DEVICES}, got {requested!r}")
    import torch

    if req == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if req == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceError(f"{setting} is 'mps' but this torch has no Apple GPU; use auto or cpu")
        return req
    if not torch.cuda.is_available():
        raise DeviceError(f"{setting} is {requested!r} but torch {torch.__version__} sees no CUDA GPU; use auto or cpu")
    index = int(req.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise DeviceError(f"{setting} is {requested!r} but torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return req
