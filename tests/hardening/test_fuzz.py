"""Property tests: arbitrary text never crashes the cleaner, the outline parser or the chunker,
and offsets always point back into the text."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.ingest.chunk import OutlineChunker
from rag.ingest.clean import clean_document
from rag.ingest.duties import find_duties
from rag.ingest.meta import extract_meta
from rag.ingest.outline import parse_outline
from rag.text.normalize import normalize

# text built from the pieces that matter: outline labels, notes, glosses, punctuation, CJK
PIECES = st.sampled_from([
    "一、", "二、", "(一)", "(二)", "1.", "2.", "(1)", "1)", "一是", "二是", "三是", "。", ",", ",,", ",。", "、",
    "\n", " ", "|", "(qū)", "(huì )", "(区发改局牵头,各有关部门配合)", "牵头", "2016年12月底前", "达到100%",
    "l00%", "陜西", "區", "当前位置", "扫一扫", "《", "》", "〔2021〕", "号", "\x00", "\r\n", "\u3000",
])
TEXT = st.lists(st.one_of(PIECES, st.text(min_size=0, max_size=12)), max_size=60).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_cleaner_never_crashes_and_is_stable(raw):
    c = clean_document(raw)
    assert isinstance(c.text, str)
    assert "\r" not in c.text and "\x00" not in c.text
    assert normalize(c.text).strip() == normalize(normalize(c.text)).strip()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_outline_partitions_any_text(text):
    secs = parse_outline(text)
    assert secs and secs[0].start == 0 and secs[-1].end == len(text)
    for a, b in zip(secs, secs[1:]):
        assert a.end == b.start
    for s in secs:
        assert s.start <= s.body_start <= len(text) and 0 <= s.start <= s.end <= len(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT, st.integers(min_value=60, max_value=400))
def test_chunks_point_back_into_any_text(text, max_chars):
    chunks = OutlineChunker(max_chars, min(40, max_chars - 1))("d", text)
    covered = [False] * len(text)
    for c in chunks:
        covered[c.start:c.end] = [True] * (c.end - c.start)
    lost = "".join(ch for ch, ok in zip(text, covered) if not ok and not ch.isspace())
    assert not lost, f"text not in any chunk: {lost!r}"
    for c in chunks:
        assert text[c.start:c.end] == c.text and c.text.strip() and len(c.text) <= max_chars
        for d in c.duties:
            assert text[d.start:d.end] == d.note and c.start <= d.start < d.end <= c.end


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_metadata_and_notes_never_crash(text):
    extract_meta(text)
    for d in find_duties(text):
        assert text[d.start:d.end] == d.note


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_outline_headings_are_the_text_at_their_offsets(text):
    for s in parse_outline(text):
        assert s.heading == text[s.start:s.body_start].strip()
        assert s.heading == "" or s.level > 0
        assert all(isinstance(p, str) for p in s.path) and len(s.path) <= max(s.level, 0) + 1


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_cleaner_never_crashes_on_any_unicode(raw):
    """Arbitrary code points (controls, bidi marks, combining marks, astral characters)."""
    c = clean_document(raw)
    assert "\x00" not in c.text and "\r" not in c.text
    for s in parse_outline(c.text):
        assert 0 <= s.start <= s.body_start <= len(c.text) and s.end <= len(c.text)
