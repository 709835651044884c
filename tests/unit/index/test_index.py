"""The index folder: manifest, mismatch errors, atomic and incremental builds, damaged files."""

import json
import shutil

import numpy as np
import pytest
from support.fakes import make_config

from rag.errors import BuildError, IndexCorrupt, IndexMismatch, IndexMissing
from rag.index.builder import IndexBuilder
from rag.index.layout import MANIFEST
from rag.index.reader import Index


def build(docs, index_dir, **overrides):
    cfg = make_config(index_dir, docs, **overrides)
    return cfg, IndexBuilder(cfg).build(docs, index_dir)


def test_manifest_records_what_the_index_was_built_with(corpus_index):
    cfg, index_dir = corpus_index
    man = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    assert man["embedding"]["id"] == "test-bigram:bigram-256"
    assert man["chunker"]["version"].startswith("outline-")
    assert man["faiss"]["kind"] == "flat"
    assert man["counts"]["documents"] == 5
    assert man["counts"]["chunks"] == sum(d["chunks"] for d in man["documents"].values())
    assert len(man["corpus"]["hash"]) == 64
    for d in man["documents"].values():
        assert len(d["sha256"]) == 64
    assert man["built_at"] and man["build_seconds"] >= 0


def test_index_serves_chunks_with_offsets_into_the_stored_text(corpus_index):
    cfg, index_dir = corpus_index
    idx = Index.open(index_dir, cfg)
    n = 0
    for c in idx.store.iter_chunks():
        doc = idx.document(c.doc_id)
        assert doc.text[c.start:c.end] == c.text
        n += 1
    assert n == idx.manifest["counts"]["chunks"] == len(idx.vectors) == len(idx.lexical)


def test_district_plan_has_its_notes_in_the_index(corpus_index):
    cfg, index_dir = corpus_index
    idx = Index.open(index_dir, cfg)
    rec = next(d for d in idx.documents() if d.doc_id.startswith("002"))
    assert rec.n_duties >= 75


def test_mismatched_embedding_is_refused_with_the_fix(corpus_index):
    _, index_dir = corpus_index
    other = make_config(index_dir, None, **{"embedding.model": "another-model"})
    with pytest.raises(IndexMismatch, match="make index"):
        Index.open(index_dir, other)


def test_mismatched_chunker_settings_are_refused(corpus_index):
    _, index_dir = corpus_index
    with pytest.raises(IndexMismatch, match="chunker"):
        Index.open(index_dir, make_config(index_dir, None, **{"chunk.max_chars": 500}))


def test_missing_index_names_the_command(tmp_path):
    with pytest.raises(IndexMissing, match="make index"):
        Index.open(tmp_path / "nothing", make_config(tmp_path / "nothing"))


def test_rebuild_without_changes_processes_nothing(small_corpus, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first = build(small_corpus, index_dir)
    assert first.count("added") == 2
    second = IndexBuilder(cfg).build(small_corpus, index_dir)
    assert second.count("unchanged") == 2 and second.embedded == 0


def test_the_ingest_fingerprint_reads_the_ingests_code_not_the_answerers():
    from rag.ingest import version

    fp = version.ingest_fingerprint()
    assert fp.startswith("outline-") and len(fp.split("+")[1]) == 16
    assert version._code_digest(b'"""doc."""\nX = 1  # note\n') == version._code_digest(b"X = 1\n")
    assert version._code_digest(b"X = 1\n") != version._code_digest(b"X = 2\n")
    assert all(not p.startswith(("answer", "retrieve", "app")) for p in version._PARTS)


def test_upgraded_ingest_processes_unchanged_files_again(small_corpus, tmp_path, corpus_dir, monkeypatch):
    """Files whose bytes did not change were processed by the old cleaning and chunking code: a
    build after an upgrade processes them again (their chunk texts did not change here, so their
    vectors come from the cache); an add keeps the old fingerprint, since the other documents
    are still the old code's."""
    from rag.index import builder

    index_dir = tmp_path / "idx"
    cfg, first = build(small_corpus, index_dir)
    old = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["ingest"]["fingerprint"]
    assert old == builder.ingest_fingerprint()
    monkeypatch.setattr(builder, "ingest_fingerprint", lambda: "outline-v4+upgraded")
    new = sorted(p.name for p in corpus_dir.iterdir())[0]
    shutil.copy(corpus_dir / new, tmp_path / new)
    added = IndexBuilder(cfg).add([tmp_path / new], tmp_path, index_dir)
    assert added.count("added") == 1
    assert json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["ingest"]["fingerprint"] == old
    report = IndexBuilder(cfg).build(small_corpus, index_dir)
    assert report.count("updated") == 2 and report.count("unchanged") == 0
    assert report.embedded == 0 and report.cached > 0
    assert json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["ingest"]["fingerprint"] == "outline-v4+upgraded"
    assert IndexBuilder(cfg).build(small_corpus, index_dir).count("unchanged") == 2


def test_changed_added_and_removed_files_are_picked_up(small_corpus, tmp_path, corpus_dir):
    index_dir = tmp_path / "idx"
    cfg, _ = build(small_corpus, index_dir)
    name = sorted(p.name for p in small_corpus.iterdir())[0]
    path = small_corpus / name
    path.write_text(path.read_text(encoding="utf-8") + "\n一、新增一节\n新增的措施内容。", encoding="utf-8")
    new = sorted(p.name for p in corpus_dir.iterdir())[0]
    shutil.copy(corpus_dir / new, small_corpus / new)
    report = IndexBuilder(cfg).build(small_corpus, index_dir)
    statuses = {d.doc_id[:3]: d.status for d in report.documents}
    assert statuses[name[:3]] == "updated" and statuses[new[:3]] == "added"
    (small_corpus / new).unlink()
    report = IndexBuilder(cfg).build(small_corpus, index_dir)
    assert {d.doc_id[:3]: d.status for d in report.documents}[new[:3]] == "removed"
    idx = Index.open(index_dir, cfg)
    assert new[:-4] not in {d.doc_id for d in idx.documents()}
    assert all(not c.doc_id.startswith(new[:3]) for c in idx.store.iter_chunks())
    assert len(idx.vectors) == idx.store.count_chunks()


def test_remove_takes_the_vectors_out(small_corpus, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, _ = build(small_corpus, index_dir)
    idx = Index.open(index_dir, cfg)
    victim = idx.documents()[0].doc_id
    ids = set(idx.store.chunk_ids([victim]))
    IndexBuilder(cfg).remove([victim], small_corpus, index_dir)
    idx = Index.open(index_dir, cfg)
    got, _ = idx.vectors.search(np.ones(256, dtype=np.float32) / 16, 500)
    assert not ids & set(int(i) for i in got)
    assert victim not in {d.doc_id for d in idx.documents()}


def test_a_crash_mid_build_leaves_the_previous_index_serving(small_corpus, tmp_path, monkeypatch):
    index_dir = tmp_path / "idx"
    cfg, first = build(small_corpus, index_dir)
    before = (index_dir / MANIFEST).read_text(encoding="utf-8")
    path = sorted(small_corpus.iterdir())[0]
    path.write_text(path.read_text(encoding="utf-8") + "\n新增内容。", encoding="utf-8")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rag.index.builder.ChunkVectorStore.persist", boom)
    with pytest.raises(BuildError, match="disk full|previous index"):
        IndexBuilder(cfg).build(small_corpus, index_dir)
    assert (index_dir / MANIFEST).read_text(encoding="utf-8") == before
    assert not list(index_dir.glob(".building-*"))
    idx = Index.open(index_dir, cfg)
    assert idx.version == first.version
    assert idx.store.count_chunks() > 0


def test_damaged_current_version_falls_back_to_the_previous(small_corpus, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first = build(small_corpus, index_dir)
    path = sorted(small_corpus.iterdir())[0]
    path.write_text(path.read_text(encoding="utf-8") + "\n新增内容。", encoding="utf-8")
    second = IndexBuilder(cfg).build(small_corpus, index_dir)
    assert second.version != first.version
    (index_dir / second.version / "vectors.faiss").write_bytes(b"garbage")
    idx = Index.open(index_dir, cfg)
    assert idx.version == first.version and "previous version" in idx.warning


def test_damaged_index_without_a_previous_version_is_a_clear_error(small_corpus, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first = build(small_corpus, index_dir)
    (index_dir / first.version / "store.sqlite").write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(IndexCorrupt, match="make index"):
        Index.open(index_dir, cfg)
    (index_dir / MANIFEST).write_text("{ half a manifest", encoding="utf-8")
    with pytest.raises(IndexCorrupt, match="make index"):
        Index.open(index_dir, cfg)


def test_a_file_that_fails_to_parse_does_not_stop_the_others(small_corpus, tmp_path):
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    index_dir = tmp_path / "idx"
    cfg, report = build(small_corpus, index_dir)
    failed = [d for d in report.documents if d.status == "failed"]
    assert len(failed) == 1 and "broken.pdf" in failed[0].reason
    assert report.count("added") == 2


def test_no_documents_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="no supported documents"):
        build(tmp_path / "empty", tmp_path / "idx")
    with pytest.raises(BuildError, match="not found"):
        build(tmp_path / "missing", tmp_path / "idx")


def test_llama_index_vector_store_index_retrieves_from_our_store(corpus_index):
    cfg, index_dir = corpus_index
    from support.fakes import BigramEmbedding

    idx = Index.open(index_dir, cfg)
    vsi = idx.vector_store_index(BigramEmbedding())
    nodes = vsi.as_retriever(similarity_top_k=3).retrieve("整治“红顶中介”")
    assert len(nodes) == 3
    hit = next(n for n in nodes if "红顶中介" in n.node.get_content())
    assert hit.node.metadata["doc_id"].startswith("002")
    assert idx.document(hit.node.metadata["doc_id"]).text[hit.node.start_char_idx:hit.node.end_char_idx] == hit.node.text


def test_a_documents_own_place_is_the_most_specific_its_title_and_issuer_name():
    from rag.index.catalog import own_place_names
    from rag.records import DocMeta

    street = DocMeta(title="新罗区东城街道办事处关于2022年度法治政府建设工作情况的报告",
                     issuer="龙岩市新罗区人民政府东城街道办事处")
    assert "东城街道" in own_place_names(street) and not {"龙岩市", "龙岩", "新罗区"} & own_place_names(street)
    county = DocMeta(title="岳阳县法治政府建设实施方案(2021—2025年)", issuer="岳阳县人民政府")
    assert "岳阳县" in own_place_names(county) and "岳阳市" not in own_place_names(county)
    assert own_place_names(DocMeta(title="关于加强法治政府建设的意见")) == set()
