# Set-up is two commands: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
INDEX  := index/manifest.json
BACKEND ?=
BACKEND_ARG := $(if $(BACKEND),--backend $(BACKEND))

export GRADIO_ANALYTICS_ENABLED := False

.PHONY: run test index eval bench bench-llm browser clean-venv

# torch first: pip takes the local CPU wheel (a plain `torch` requirement would pull CUDA builds)
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q torch==2.13.0
	$(VENV)/bin/pip install -q -e '.[test,milvus]'
	touch $(STAMP)

$(INDEX): | $(STAMP)
	$(PY) -m rag build

run: $(STAMP) $(INDEX)
	$(PY) app.py

browser:
	sh scripts/ensure-browser.sh || echo "warning: no browser; the browser test will be skipped" >&2

test: $(STAMP) browser
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(PY) -m pytest -q

index: $(STAMP)
	$(PY) -m rag build

# `make eval BACKEND=milvus` / `make bench BACKEND=milvus`: the milvus backend (milvus-lite in
# index-milvus/ unless rag.toml says otherwise); the index for it is built or updated first
eval: $(STAMP) $(INDEX)
	$(if $(BACKEND),$(PY) -m rag build $(BACKEND_ARG))
	$(PY) -m rag eval $(BACKEND_ARG)

bench: $(STAMP) $(INDEX)
	$(PY) -m rag bench $(BACKEND_ARG)

bench-llm: $(STAMP) $(INDEX)
	$(PY) -m rag.bench.llm prompts
	$(PY) -m rag.bench.llm run

clean-venv:
	rm -rf $(VENV)
