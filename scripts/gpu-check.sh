#!/bin/sh
# Checks for a machine with a CUDA GPU (CI has none, so these parts are skipped there):
# 1. the device tests of the torch backends (tests/gpu/test_device.py) and the transformers backend
#    tests, with the models on the GPU;
# 2. the transformers backend's speed for Qwen2.5 sizes on the GPU (JSON lines, see rag/bench/llm.py);
#    needs the answer prompts from `python -m rag.bench.llm prompts` (var/bench/llm_prompts.jsonl).
# PYTHON, SHAPES, N and NEW_TOKENS override the defaults.
set -e
PY=${PYTHON:-python3}
$PY - <<'PYEOF'
import torch
assert torch.cuda.is_available(), "torch sees no CUDA GPU"
print("gpu:", torch.cuda.get_device_name(), "torch", torch.__version__, flush=True)
PYEOF
$PY -m pytest -q -p no:cacheprovider -rs tests/gpu/test_device.py tests/unit/models/test_generate.py -k "device or gpu or transformers"
$PY -m rag.bench.llm run --device cuda --shapes "${SHAPES:-0.5b,1.5b,7b,14b}" --n "${N:-6}" --new-tokens "${NEW_TOKENS:-200}"
