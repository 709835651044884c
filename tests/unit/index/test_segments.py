"""Segmented versions (rag/index/layout.py): a shared base, a small delta, tombstones.

An add or remove on a large index hard-links the previous version's base files and writes a
small delta; what readers see must be what a single index built over the same live documents
gives (dense and BM25 scores), tombstoned rows must never come back, and compaction must give
a plain base again. The thresholds are lowered here so that the five-document corpus takes the
delta path (`segment_min_chunks = 0`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support.fakes import CORPUS, make_config

from rag.errors import BuildError, IndexCorrupt
from rag.index.builder import IndexBuilder
from rag.index.layout import MANIFEST, read_manifest
from rag.index.reader import Index

SEG = {"index.segment_min_chunks": 0}
ROOMY = {"index.tombstone_max_share": 1.0}  # replacing a document of the base keeps the delta path


@pytest.fixture()
def docs(tmp_path) -> Path:
    d = tmp_path / "docs"
    shutil.copytree(CORPUS, d)
    return d


def _files(docs: Path) -> list[Path]:
    return sorted(p for p in docs.iterdir() if p.is_file())


def _segmented(docs: Path, index_dir: Path, tmp_path: Path, **over):
    """A base of files 0..3, file 4 added (the delta), file 0 removed (a base document:
    tombstones); file 0 is then set aside (the folder as the index now is)."""
    cfg = make_config(index_dir, docs, **{**SEG, **over})
    files = _files(docs)
    aside = tmp_path / f"aside-{index_dir.name}"
    aside.mkdir(exist_ok=True)
    shutil.move(files[4], aside / files[4].name)
    first = IndexBuilder(cfg).build(docs, index_dir)
    assert first.write_mode == "fresh"
    shutil.move(aside / files[4].name, files[4])
    added = IndexBuilder(cfg).add([files[4]], docs, index_dir)
    assert added.write_mode == "delta"
    victim = files[0].name
    idx = Index.open(index_dir, cfg)
    victim_ids = set(idx.store.chunk_ids([victim]))
    victim_texts = [c.text for c in idx.store.doc_chunks(victim)]
    removed = IndexBuilder(cfg).remove([victim], docs, index_dir)
    assert removed.write_mode == "delta" and removed.count("removed") == 1
    shutil.move(files[0], aside / files[0].name)  # the folder as the index now is
    return cfg, first, removed, victim, victim_ids, victim_texts


def _reference(docs: Path, tmp_path: Path):
    """One index built in one go over the same live documents."""
    ref_dir = tmp_path / "ref"
    cfg = make_config(ref_dir, docs)
    IndexBuilder(cfg).build(docs, ref_dir)
    return Index.open(ref_dir, cfg)


def _by_chunk(idx: Index, hits) -> dict[str, float]:
    ids = [i for i, _ in hits]
    names = {c.id: c.chunk_id for c in idx.chunks(ids)}
    assert len(names) == len(ids)  # every hit can be fetched
    return {names[i]: s for i, s in hits}


def _queries(idx: Index) -> list[str]:
    texts = [c.text for c in idx.store.iter_chunks()]
    return [t[:60] for t in texts[::9]] + ["营业执照找哪个部门", "行政执法 监督 考核", "法治政府建设"]


def _same(a: dict[str, float], b: dict[str, float], tol: float) -> None:
    sa, sb = sorted(a.values(), reverse=True), sorted(b.values(), reverse=True)
    assert len(sa) == len(sb)
    assert np.allclose(sa, sb, rtol=tol, atol=tol), (sa[:5], sb[:5])
    for name in set(a) & set(b):
        assert abs(a[name] - b[name]) <= tol * max(1.0, abs(b[name]))
    # the ids differ only where scores tie at the cut
    cut = sb[-1] if sb else 0
    assert {n for n, s in a.items() if s > cut + tol} == {n for n, s in b.items() if s > cut + tol}


def test_delta_add_then_remove_searches_like_a_full_rebuild(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first, last, victim, _, _ = _segmented(docs, index_dir, tmp_path)
    idx = Index.open(index_dir, cfg)
    seg = idx.manifest["segments"]
    assert seg["delta_chunks"] > 0 and seg["tombstones"] > 0
    ref = _reference(docs, tmp_path)
    assert idx.store.count_chunks() == ref.store.count_chunks() == len(idx.vectors) == len(idx.lexical)
    assert idx.manifest["counts"]["chunks"] == ref.manifest["counts"]["chunks"]
    assert set(idx.manifest["documents"]) == set(ref.manifest["documents"])
    assert [d.doc_id for d in idx.documents()] == [d.doc_id for d in ref.documents()]
    assert {c.chunk_id for c in idx.store.iter_chunks()} == {c.chunk_id for c in ref.store.iter_chunks()}
    model = IndexBuilder(cfg).embed_model
    scope = [d.doc_id for d in ref.documents()][:2]
    for q in _queries(ref):
        toks = ref.tokenizer.tokens(q)
        assert idx.backend.doc_freq(toks) == ref.backend.doc_freq(toks)
        for docs_filter in (None, scope):
            _same(_by_chunk(idx, idx.backend.search_lexical(toks, 10, docs_filter)),
                  _by_chunk(ref, ref.backend.search_lexical(toks, 10, docs_filter)), 1e-5)
            vec = np.asarray(model.get_query_embedding(q), dtype=np.float32)
            _same(_by_chunk(idx, idx.backend.search_dense(vec, 10, docs_filter)),
                  _by_chunk(ref, ref.backend.search_dense(vec, 10, docs_filter)), 1e-5)


def test_many_tombstones_use_a_faiss_selector_with_the_same_results(docs, tmp_path, monkeypatch):
    import rag.index.vectors as vectors

    index_dir = tmp_path / "idx"
    cfg, *_ = _segmented(docs, index_dir, tmp_path)
    ref = _reference(docs, tmp_path)
    model = IndexBuilder(cfg).embed_model
    monkeypatch.setattr(vectors, "OVERSAMPLE_DEAD", 0)  # every tombstone set counts as large
    idx = Index.open(index_dir, cfg)
    for q in _queries(ref)[:8]:
        vec = np.asarray(model.get_query_embedding(q), dtype=np.float32)
        _same(_by_chunk(idx, idx.backend.search_dense(vec, 10)), _by_chunk(ref, ref.backend.search_dense(vec, 10)), 1e-5)


def test_tombstoned_chunks_are_never_returned_or_fetched(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, _, _, victim, victim_ids, victim_texts = _segmented(docs, index_dir, tmp_path)
    idx = Index.open(index_dir, cfg)
    model = IndexBuilder(cfg).embed_model
    assert idx.store.get_chunks(sorted(victim_ids)) == []
    assert idx.store.chunk_ids([victim]) == [] and idx.store.doc_chunks(victim) == []
    assert idx.document(victim) is None and idx.sections(victim) == []
    assert victim not in idx.store.doc_ids() and victim not in {d.doc_id for d in idx.documents()}
    assert not victim_ids & set(idx.store.chunk_ids())
    assert not victim_ids & {c.id for c in idx.store.iter_chunks()}
    assert not any(idx.vectors.has_id(i) for i in victim_ids)
    assert not victim_ids & set(idx.vectors.all_vectors()[0].tolist())
    for text in victim_texts:
        toks = idx.tokenizer.tokens(text)
        assert not victim_ids & {i for i, _ in idx.backend.search_lexical(toks, 50)}
        vec = np.asarray(model.get_query_embedding(text), dtype=np.float32)
        assert not victim_ids & {i for i, _ in idx.backend.search_dense(vec, 50)}
        assert not victim_ids & {i for i, _ in idx.backend.search_dense(vec, 50, [victim])}
    # removing it again is an error, as for a plain index
    report = IndexBuilder(cfg).remove([victim], docs, index_dir)
    assert report.count("failed") == 1


def test_base_files_are_hard_linked_and_survive_garbage_collection(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first, last, *_ = _segmented(docs, index_dir, tmp_path, **{"index.keep_versions": 5, **ROOMY})
    versions = sorted(p.name for p in index_dir.glob("v-*"))
    assert len(versions) == 3 and versions[0] == first.version and versions[-1] == last.version
    shared = ["store.sqlite", "vectors.faiss"] + [f"lexical/{p.name}" for p in (index_dir / first.version / "lexical").iterdir()]
    for name in shared:
        inodes = {os.stat(index_dir / v / name).st_ino for v in versions}
        assert len(inodes) == 1, name
        assert os.stat(index_dir / last.version / name).st_nlink == 3
    # the deltas are each version's own
    assert os.stat(index_dir / versions[1] / "delta.sqlite").st_ino != os.stat(index_dir / last.version / "delta.sqlite").st_ino
    # collecting the two oldest leaves the current version whole
    cfg.index.keep_versions = 0
    files = _files(docs)
    files[1].write_text(files[1].read_text(encoding="utf-8") + "\n五、新增\n新增的措施内容。", encoding="utf-8")
    newest = IndexBuilder(cfg).add([files[1]], docs, index_dir)
    assert newest.write_mode == "delta"
    left = sorted(p.name for p in index_dir.glob("v-*"))
    assert left == [last.version, newest.version]  # the current and the one before it
    assert os.stat(index_dir / newest.version / "store.sqlite").st_nlink == 2
    idx = Index.open(index_dir, cfg)
    assert idx.version == newest.version and idx.store.count_chunks() == len(idx.vectors) == len(idx.lexical)
    assert _by_chunk(idx, idx.backend.search_lexical(idx.tokenizer.tokens("新增的措施内容"), 5))


def test_compaction_writes_a_plain_base_again(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first, last, *_ = _segmented(docs, index_dir, tmp_path)
    cfg.index.delta_max_chunks, cfg.index.delta_max_share = 1, 0.0
    files = _files(docs)
    max_before = max(Index.open(index_dir, cfg).store.chunk_ids())
    files[1].write_text(files[1].read_text(encoding="utf-8") + "\n五、新增\n新增的措施内容。", encoding="utf-8")
    report = IndexBuilder(cfg).add([files[1]], docs, index_dir)  # the delta is past its limit
    assert report.write_mode == "compact"
    man = read_manifest(index_dir)
    assert "segments" not in man
    vdir = index_dir / report.version
    assert not (vdir / "delta.sqlite").exists() and not (vdir / "delta").exists()
    assert os.stat(vdir / "store.sqlite").st_ino != os.stat(index_dir / last.version / "store.sqlite").st_ino
    assert os.stat(vdir / "store.sqlite").st_nlink == 1
    idx = Index.open(index_dir, cfg)
    ref = _reference(docs, tmp_path)
    assert type(idx.vectors).__name__ == "ChunkVectorStore" and type(idx.lexical).__name__ == "LexicalIndex"
    assert idx.store.count_chunks() == ref.store.count_chunks() == len(idx.vectors) == len(idx.lexical)
    model = IndexBuilder(cfg).embed_model
    for q in _queries(ref):
        toks = ref.tokenizer.tokens(q)
        _same(_by_chunk(idx, idx.backend.search_lexical(toks, 10)), _by_chunk(ref, ref.backend.search_lexical(toks, 10)), 1e-5)
        vec = np.asarray(model.get_query_embedding(q), dtype=np.float32)
        _same(_by_chunk(idx, idx.backend.search_dense(vec, 10)), _by_chunk(ref, ref.backend.search_dense(vec, 10)), 1e-5)
    # ids are never reused after compaction
    assert min(c.id for c in idx.store.doc_chunks(files[1].name)) > max_before
    # and the next change starts a new delta over the new base
    cfg.index.delta_max_chunks, cfg.index.tombstone_max_share = 2000, 1.0
    files[2].write_text(files[2].read_text(encoding="utf-8") + "\n六、再增\n再增的内容。", encoding="utf-8")
    again = IndexBuilder(cfg).add([files[2]], docs, index_dir)
    assert again.write_mode == "delta"
    assert os.stat(index_dir / again.version / "store.sqlite").st_ino == os.stat(vdir / "store.sqlite").st_ino


def test_tombstones_past_their_share_and_full_builds_compact(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first, last, *_ = _segmented(docs, index_dir, tmp_path)
    cfg.index.tombstone_max_share = 0.01
    files = _files(docs)
    report = IndexBuilder(cfg).remove([files[1].name], docs, index_dir)
    assert report.write_mode == "compact" and "segments" not in read_manifest(index_dir)
    idx = Index.open(index_dir, cfg)
    assert files[1].name not in idx.store.doc_ids()
    # a full build (`make index`) on a segmented version writes one base
    docs2 = tmp_path / "docs2"
    shutil.copytree(CORPUS, docs2)
    index2 = tmp_path / "idx2"
    cfg2, *_ = _segmented(docs2, index2, tmp_path)
    victim = sorted(p.name for p in CORPUS.iterdir() if p.is_file())[0]
    shutil.move(tmp_path / "aside-idx2" / victim, docs2 / victim)
    report = IndexBuilder(cfg2).build(docs2, index2)
    assert report.write_mode == "compact" and "segments" not in read_manifest(index2)
    assert report.count("added") == 1
    idx = Index.open(index2, cfg2)
    assert idx.store.count_chunks() == len(idx.vectors) == len(idx.lexical) == _reference(docs2, tmp_path).store.count_chunks()


def test_a_crash_during_a_delta_write_leaves_the_previous_version_serving(docs, tmp_path, monkeypatch):
    index_dir = tmp_path / "idx"
    cfg, first, last, *_ = _segmented(docs, index_dir, tmp_path, **ROOMY)
    before = (index_dir / MANIFEST).read_bytes()
    base_ino = os.stat(index_dir / last.version / "store.sqlite").st_ino
    files = _files(docs)
    files[1].write_text(files[1].read_text(encoding="utf-8") + "\n五、新增\n新增的措施内容。", encoding="utf-8")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rag.index.lexical.LexicalIndex.save", boom)  # mid-way: store and vectors written
    with pytest.raises(BuildError, match="disk full"):
        IndexBuilder(cfg).add([files[1]], docs, index_dir)
    monkeypatch.undo()
    assert (index_dir / MANIFEST).read_bytes() == before and not list(index_dir.glob(".building-*"))
    assert os.stat(index_dir / last.version / "store.sqlite").st_nlink == 3  # staging's links are gone
    # a build killed outright (no cleanup at all): the next one removes what it left
    code = textwrap.dedent(f"""
        import os, sys
        sys.path[:0] = {[str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[3])]!r}
        from support.fakes import make_config, register_fake_embedding
        register_fake_embedding()
        import rag.index.backend as backend
        from rag.index.builder import IndexBuilder
        real = backend.DeltaWriter.finish
        def die(self):
            real(self)
            os._exit(9)
        backend.DeltaWriter.finish = die
        cfg = make_config({str(index_dir)!r}, {str(docs)!r}, **{ {**SEG, **ROOMY}!r})
        IndexBuilder(cfg).add([{str(files[1])!r}], {str(docs)!r}, {str(index_dir)!r})
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 9, r.stderr
    assert (index_dir / MANIFEST).read_bytes() == before
    idx = Index.open(index_dir, cfg)
    assert idx.version == last.version and not idx.warning
    assert os.stat(index_dir / last.version / "store.sqlite").st_ino == base_ino
    assert idx.store.count_chunks() == len(idx.vectors) == len(idx.lexical)
    report = IndexBuilder(cfg).add([files[1]], docs, index_dir)  # the lock removes the stale staging
    assert report.write_mode == "delta" and not list(index_dir.glob(".building-*"))
    assert Index.open(index_dir, cfg).version == report.version


def test_a_reader_of_an_old_version_keeps_working_while_deltas_are_published(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first, last, *_ = _segmented(docs, index_dir, tmp_path, **{"index.keep_versions": 0, **ROOMY})
    old = Index.open(index_dir, cfg)
    model = IndexBuilder(cfg).embed_model
    qs = _queries(old)[:6]

    def answers(idx):
        out = []
        for q in qs:
            vec = np.asarray(model.get_query_embedding(q), dtype=np.float32)
            for hits in (idx.backend.search_lexical(idx.tokenizer.tokens(q), 5), idx.backend.search_dense(vec, 5)):
                out.append([(c.chunk_id, round(s, 5)) for c, (_, s) in zip(idx.chunks([i for i, _ in hits]), hits)])
        return out

    seen = answers(old)
    files = _files(docs)
    for k, f in enumerate(files[1:3]):
        f.write_text(f.read_text(encoding="utf-8") + f"\n五、新增{k}\n新增的措施内容{k}。", encoding="utf-8")
        assert IndexBuilder(cfg).add([f], docs, index_dir).write_mode == "delta"
    assert not (index_dir / last.version).exists()  # collected while `old` is open
    assert answers(old) == seen
    assert old.store.count_chunks() == len(old.vectors)
    new = Index.open(index_dir, cfg)
    assert new.version != old.version and new.store.count_chunks() == len(new.vectors) == len(new.lexical)


def test_a_damaged_delta_falls_back_to_the_previous_version(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg, first, last, *_ = _segmented(docs, index_dir, tmp_path)
    previous = read_manifest(index_dir)["previous"]
    for damage in ("delta.sqlite", "delta/vectors.faiss", "delta/lexical/ids.npy"):
        keep = (index_dir / last.version / damage).read_bytes()
        (index_dir / last.version / damage).write_bytes(b"SQLite format 3\x00" + b"\xff" * 100)
        idx = Index.open(index_dir, cfg)
        assert idx.version == previous and "previous version" in idx.warning, damage
        assert idx.store.count_chunks() == len(idx.vectors) == len(idx.lexical)
        if not damage.startswith("delta/lexical"):  # what the builder reads: not built upon
            with pytest.raises(BuildError, match="damaged"):  # (the delta's lexical arrays are rebuilt)
                IndexBuilder(cfg).remove([_files(docs)[1].name], docs, index_dir)
        (index_dir / last.version / damage).write_bytes(keep)
    assert Index.open(index_dir, cfg).version == last.version


def test_a_damaged_shared_base_is_a_clear_error_and_a_full_build_repairs_it(docs, tmp_path):
    """The base is shared by the versions linking it: the previous version cannot stand in.
    Readers say so in one line; add/remove refuse; `make index` (build) writes everything again."""
    index_dir = tmp_path / "idx"
    cfg, first, last, *_ = _segmented(docs, index_dir, tmp_path)
    (index_dir / last.version / "vectors.faiss").write_bytes(b"garbage")  # every version's (one inode)
    with pytest.raises(IndexCorrupt, match="make index"):
        Index.open(index_dir, cfg)
    with pytest.raises(BuildError, match="damaged"):
        IndexBuilder(cfg).remove([_files(docs)[1].name], docs, index_dir)
    report = IndexBuilder(cfg).build(docs, index_dir)
    assert report.write_mode == "fresh"
    idx = Index.open(index_dir, cfg)
    assert idx.version == report.version and "segments" not in idx.manifest
    assert idx.store.count_chunks() == len(idx.vectors) == _reference(docs, tmp_path).store.count_chunks()


def test_small_indexes_stay_plain_by_default(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg = make_config(index_dir, docs)
    IndexBuilder(cfg).build(docs, index_dir)
    files = _files(docs)
    report = IndexBuilder(cfg).remove([files[0].name], docs, index_dir)
    assert report.write_mode == "copy" and "segments" not in read_manifest(index_dir)


def test_a_change_that_takes_the_delta_past_its_limit_compacts_at_once(docs, tmp_path):
    index_dir = tmp_path / "idx"
    cfg = make_config(index_dir, docs, **{**SEG, "index.delta_max_chunks": 10, "index.delta_max_share": 0.0})
    files = _files(docs)
    aside = tmp_path / "aside"
    aside.mkdir()
    shutil.move(files[4], aside / files[4].name)
    IndexBuilder(cfg).build(docs, index_dir)
    shutil.move(aside / files[4].name, files[4])
    report = IndexBuilder(cfg).add([files[4]], docs, index_dir)  # 29 chunks > 10
    assert report.write_mode == "delta+compact" and report.count("added") == 1
    man = read_manifest(index_dir)
    assert man["version"] == report.version and "segments" not in man
    idx = Index.open(index_dir, cfg)
    assert idx.store.count_chunks() == len(idx.vectors) == len(idx.lexical) == _reference(docs, tmp_path).store.count_chunks()
