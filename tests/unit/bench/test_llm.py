"""The LLM speed benchmark's parts: real answer prompts from the index, the stand-in tokenizer
(one token per character, text back unchanged), and its command line."""

from __future__ import annotations

import json

from rag.bench.llm import SPECIALS, VOCAB, build_prompts, char_tokenizer, main
from rag.bench.measure import QUESTIONS_FILE


def test_prompts_are_the_llm_answerers_prompts(corpus_index, tmp_path, monkeypatch):
    cfg, index_dir = corpus_index
    monkeypatch.setenv("RAG_EMBEDDING_BACKEND", cfg.embedding.backend)
    monkeypatch.setenv("RAG_EMBEDDING_MODEL", cfg.embedding.model)
    out = tmp_path / "prompts.jsonl"
    prompts = build_prompts(3, out, str(index_dir))
    assert len(prompts) == 3 and [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()] == \
        [[list(m) for m in p] for p in prompts]
    from rag.answer.generative import as_sources, build_answer_messages, llm_hits
    from rag.evaluation.dataset import load_questions
    from rag.pipeline import Pipeline

    pipeline = Pipeline.from_config(cfg, index_dir)
    questions = [q.question for q in load_questions(QUESTIONS_FILE) if q.answerable][:3]
    for q, p in zip(questions, prompts):
        assert [role for role, _ in p] == ["system", "user"]
        assert '<source n="1"' in p[1][1] and '<source n="6"' not in p[1][1]  # at most five sections
        assert p == build_answer_messages(q, as_sources(llm_hits(pipeline.snapshot().evidence(q))))  # the LLM answerer's own


def test_char_tokenizer_one_token_per_character():
    text = "陕西省2022年底前建成“两法衔接”平台。\n(省司法厅牵头)"
    tok = char_tokenizer([text])
    ids = tok(text)["input_ids"]
    assert len(ids) == len(text) and tok.decode(ids) == text
    assert len(tok) == VOCAB and [tok.convert_tokens_to_ids(s) for s in SPECIALS] == [0, 1, 2]
    chat = tok.apply_chat_template([{"role": "user", "content": "你好"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"
    assert tok(chat)["input_ids"][0] == 1  # the special is one token, not its characters


def test_cli_errors(tmp_path, capsys):
    assert main(["run", "--shapes", "70b"]) == 2
    assert "unknown size(s) 70b; known: 0.5b, 1.5b" in capsys.readouterr().err
    assert main(["run", "--prompts", str(tmp_path / "none.jsonl")]) == 1
    assert "run `python -m rag.bench.llm prompts` first" in capsys.readouterr().err
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n", encoding="utf-8")
    assert main(["run", "--prompts", str(empty)]) == 1
    assert capsys.readouterr().err == f"error: {empty} holds no prompts: run `python -m rag.bench.llm prompts` again\n"
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps([["user", "你好"]]) + "\n", encoding="utf-8")
    assert main(["run", "--prompts", str(prompts), "--device", "gpu"]) == 1
    assert capsys.readouterr().err == "error: --device must be auto, cpu, cuda, cuda:N or mps, got 'gpu'\n"
    assert main(["prompts", "--index", str(tmp_path / "no-index"), "--out", str(tmp_path / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no index in ") and err.count("\n") == 1
