"""BM25 over our own tokens (`rag.text.tokenize`), on numpy arrays that scale to a million chunks.

Scoring is bm25s's default ("lucene" BM25: idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
tf part = tf / (tf + k1 (1 - b + b dl / avgdl))), computed on our own column-compressed arrays
so that it scales to a million chunks on a small machine:

- building streams token lists in batches (no list of a million token lists in memory);
- the arrays are saved as .npy and memory-mapped on load (loading costs nothing, only the
  posting lists a query touches are read);
- the vocabulary is a sorted byte-string array searched with `np.searchsorted` (no dict of
  every token to build at load);
- chunk ids are kept sorted, so id filters are `searchsorted` too (no per-id Python dict);
- raw term frequencies and document lengths are stored beside the BM25 weights, so adding or
  removing documents updates the arrays (`updated`) instead of re-reading every chunk's tokens.

Searches take query tokens: the caller tokenizes with the index's own `Tokenizer`.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path
from typing import Iterable

import numpy as np

from rag.text.tokenize import TOKENIZER_VERSION

INDEX_FORMAT = "bm25-csc-v3"  # the on-disk layout (see LexicalIndex.save)
K1, B = 1.2, 0.75


# ---------------------------------------------------------------- the index

_FILES = ("ids", "vocab", "vocab_tid", "indptr", "rows", "tf", "weights", "doclen", "maxw")
PRUNE_MIN_POSTINGS = 20_000  # below this, scoring a term in full costs less than deciding not to


def _term_max(indptr: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The largest weight of each term (0 for a term without entries): BM25's per-term upper
    bound, which lets a search skip the long posting lists of common terms."""
    n_terms = len(indptr) - 1
    out = np.zeros(n_terms, dtype=np.float32)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if len(nonempty) and len(weights):
        out[nonempty] = np.maximum.reduceat(np.asarray(weights), np.asarray(indptr[nonempty]))
    return out


def top_positions(scores: np.ndarray, k: int, among: np.ndarray | None = None) -> np.ndarray:
    """Positions of the k largest positive scores, best first, ties by position (what a
    stable sort gives), without partitioning the whole array: the k-th largest of block
    maxima is a lower bound of the k-th largest score, so only values above it are sorted."""
    if among is not None:
        vals = scores[among]
        top = top_positions(vals, k)
        return among[top]
    n = len(scores)
    if n == 0 or k <= 0:
        return np.zeros(0, np.int64)
    block = 1024
    m = (n // block) * block
    floor = np.float32(0)
    if m // block > k:
        bmax = scores[:m].reshape(-1, block).max(axis=1)
        floor = max(floor, np.partition(bmax, len(bmax) - k)[len(bmax) - k])
    cand = np.flatnonzero(scores >= floor) if floor > 0 else np.flatnonzero(scores > 0)
    if cand.size > k:
        vals = scores[cand]
        kth = np.partition(vals, cand.size - k)[cand.size - k]
        cand = cand[vals >= kth]
    order = np.lexsort((cand, -scores[cand]))
    return cand[order][:k]


def _vocab_arrays(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(sorted utf-8 byte strings, term id of each) for tokens numbered by position."""
    if not tokens:
        return np.zeros(0, dtype="S1"), np.zeros(0, dtype=np.int32)
    enc = np.array([t.encode("utf-8") for t in tokens])
    order = np.argsort(enc, kind="stable")
    return enc[order], order.astype(np.int32)


def _bm25_weights(indptr: np.ndarray, rows: np.ndarray, tf: np.ndarray, doclen: np.ndarray,
                  k1: float = K1, b: float = B, step: int = 16_000_000) -> np.ndarray:
    """BM25 weight of every (term, document) entry, as bm25s ("lucene") computes it."""
    n = len(doclen)
    out = np.empty(len(rows), dtype=np.float32)
    if n == 0 or len(rows) == 0:
        return out
    df = np.diff(indptr).astype(np.float64)
    idf = np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
    avgdl = float(doclen.mean()) or 1.0
    norm = (k1 * ((1.0 - b) + b * doclen.astype(np.float64) / avgdl)).astype(np.float32)
    # the term of each entry, slice by slice (bounded memory at a million chunks)
    for start in range(0, len(rows), step):
        end = min(start + step, len(rows))
        lo = np.searchsorted(indptr, start, side="right") - 1
        hi = np.searchsorted(indptr, end, side="left")
        terms = np.repeat(np.arange(lo, hi, dtype=np.int32),
                          np.diff(np.clip(indptr[lo:hi + 1], start, end)))
        t = tf[start:end].astype(np.float32)
        out[start:end] = idf[terms] * (t / (t + norm[rows[start:end]]))
    return out


class LexicalBuilder:
    """Streams (ids, token lists) batches into a `LexicalIndex`. Ids must come in ascending
    order (the chunk store's order)."""

    def __init__(self, bigrams: bool = True, k1: float = K1, b: float = B):
        self.bigrams, self.k1, self.b = bigrams, k1, b
        self.vocab: dict[str, int] = {}
        self._ids: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._terms: list[np.ndarray] = []
        self._tf: list[np.ndarray] = []
        self._dl: list[np.ndarray] = []
        self.n = 0

    def add(self, ids, token_lists: Iterable[list[str]]) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        vocab = self.vocab
        rows, terms, tfs, dls = [], [], [], []
        for r, toks in enumerate(token_lists, self.n):
            counts = Counter(toks)
            dls.append(len(toks) or 1)  # bm25s scores an empty chunk as the one token ""
            for tok, c in counts.items():
                tid = vocab.get(tok)
                if tid is None:
                    tid = vocab[tok] = len(vocab)
                terms.append(tid)
                tfs.append(c)
            rows.extend([r] * len(counts))
        if len(dls) != len(ids):
            raise ValueError(f"{len(ids)} ids but {len(dls)} token lists")
        if not len(ids):
            return
        if np.any(np.diff(ids) <= 0) or (self._ids and ids[0] <= self._ids[-1][-1]):
            raise ValueError("chunk ids must be added in ascending order")
        self._ids.append(ids)
        self._rows.append(np.asarray(rows, dtype=np.int32))
        self._terms.append(np.asarray(terms, dtype=np.int32))
        self._tf.append(np.minimum(np.asarray(tfs, dtype=np.int64), 65535).astype(np.uint16))
        self._dl.append(np.asarray(dls, dtype=np.int32))
        self.n += len(ids)

    def _batches(self, target: int = 4_000_000):
        """The collected entries as (rows, terms, tf) batches of about `target` entries, in
        row order; the per-call parts are released as they are consumed."""
        rows, terms, tfs, size = [], [], [], 0
        while self._rows:
            rows.append(self._rows.pop(0))
            terms.append(self._terms.pop(0))
            tfs.append(self._tf.pop(0))
            size += len(rows[-1])
            if size >= target or not self._rows:
                yield np.concatenate(rows), np.concatenate(terms), np.concatenate(tfs)
                rows, terms, tfs, size = [], [], [], 0

    def finish(self) -> "LexicalIndex":
        """Column-compress the entries (by term; rows ascending inside a term) without a global
        sort: a counting pass, then each batch is placed at its terms' cursors. Peak memory is
        the entries plus the output arrays, not an int64 permutation of everything."""
        ids = np.concatenate(self._ids).astype(np.int64) if self._ids else np.zeros(0, np.int64)
        doclen = np.concatenate(self._dl).astype(np.int32) if self._dl else np.zeros(0, np.int32)
        n_terms = len(self.vocab)
        counts = np.zeros(n_terms, dtype=np.int64)
        parts = list(zip(self._rows, self._terms, self._tf))
        for _, t, _ in parts:
            if len(t):
                counts += np.bincount(t, minlength=n_terms)
        del parts
        indptr = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        nnz = int(indptr[-1])
        rows = np.empty(nnz, dtype=np.int32)
        tf = np.empty(nnz, dtype=np.uint16)
        cursor = indptr[:-1].copy()
        for r_b, t_b, f_b in self._batches():
            order = np.argsort(t_b, kind="stable")
            t_sorted = t_b[order]
            c_b = np.bincount(t_sorted, minlength=n_terms)
            first = np.cumsum(c_b) - c_b  # where each term's run starts inside the batch
            dest = cursor[t_sorted] + (np.arange(len(t_sorted), dtype=np.int64) - first[t_sorted])
            rows[dest] = r_b[order]
            tf[dest] = f_b[order]
            cursor += c_b
            del order, t_sorted, dest
        self._ids, self._dl = [], []
        weights = _bm25_weights(indptr, rows, tf, doclen, self.k1, self.b)
        vocab, vocab_tid = _vocab_arrays(list(self.vocab))
        return LexicalIndex(ids, vocab, vocab_tid, indptr, rows, tf, weights, doclen, None, self.bigrams,
                            self.k1, self.b)


class LexicalIndex:
    """BM25 over token lists, with our chunk ids. `search` can be limited to allowed ids."""

    def __init__(self, ids, vocab, vocab_tid, indptr, rows, tf, weights, doclen, maxw=None, bigrams: bool = True,
                 k1: float = K1, b: float = B):
        self.ids = ids  # chunk id of each row, ascending
        self.maxw = maxw if maxw is not None else _term_max(indptr, weights)  # per-term upper bound
        self.vocab, self.vocab_tid = vocab, vocab_tid  # sorted utf-8 tokens → term id
        self.indptr, self.rows, self.tf, self.weights = indptr, rows, tf, weights  # column-compressed
        self.doclen = doclen
        self.bigrams, self.k1, self.b = bigrams, k1, b
        self._floor = threading.local()  # the last _pruned_top's completeness floor (this thread's)

    @classmethod
    def build(cls, token_lists: Iterable[list[str]], ids, bigrams: bool = True) -> "LexicalIndex":
        b = LexicalBuilder(bigrams)
        b.add(ids, token_lists)
        return b.finish()

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_terms(self) -> int:
        return len(self.indptr) - 1

    def doc_freq(self, tokens: list[str]) -> dict[str, int]:
        """How many chunks contain each token (0 for tokens the index has never seen)."""
        out = {t: 0 for t in tokens}
        if not out or len(self.vocab) == 0:
            return out
        width = self.vocab.dtype.itemsize
        known = [t for t in out if len(t.encode("utf-8")) <= width]
        if not known:
            return out
        q = np.array([t.encode("utf-8") for t in known], dtype=self.vocab.dtype)
        pos = np.minimum(np.searchsorted(self.vocab, q), len(self.vocab) - 1)
        for t, p, hit in zip(known, pos.tolist(), (self.vocab[pos] == q).tolist()):
            if hit:
                tid = int(self.vocab_tid[p])
                out[t] = int(self.indptr[tid + 1] - self.indptr[tid])
        return out

    # -- searching
    def term_ids(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(term ids, how often each occurs in `tokens`) for the tokens the index knows."""
        if not tokens or len(self.vocab) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        counts = Counter(tokens)
        width = self.vocab.dtype.itemsize
        enc = [t.encode("utf-8") for t in counts]
        keep = [i for i, e in enumerate(enc) if len(e) <= width]
        if not keep:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        q = np.array([enc[i] for i in keep], dtype=self.vocab.dtype)
        pos = np.searchsorted(self.vocab, q)
        ok = pos < len(self.vocab)
        ok[ok] = self.vocab[pos[ok]] == q[ok]
        c = np.array(list(counts.values()), dtype=np.int64)[keep]
        return np.asarray(self.vocab_tid[pos[ok]], dtype=np.int64), c[ok]

    def _accumulate(self, tids: np.ndarray, counts: np.ndarray, stats: "TermStats | None" = None) -> np.ndarray:
        scores = np.zeros(len(self.ids), dtype=np.float32)
        for t, c in zip(tids.tolist(), counts.tolist()):
            self._add_term(scores, t, c, stats)
        return scores

    def _weights(self, t: int, s: int, e: int, stats: "TermStats | None", at: np.ndarray | None = None,
                 rows: np.ndarray | None = None) -> np.ndarray:
        """BM25 weights of term t's entries s:e (or of those at positions `at` inside them, whose
        rows are `rows`): the stored ones, or with `stats` those of a larger collection this
        index is one segment of (its N, document frequencies and average length), computed as
        `_bm25_weights` does."""
        if stats is None:
            w = self.weights[s:e]
            return w if at is None else w[at]
        tf = self.tf[s:e] if at is None else self.tf[s:e][at]
        tf = tf.astype(np.float32)
        rows = self.rows[s:e] if rows is None else rows
        return stats.idf[t] * (tf / (tf + stats.norm[rows]))

    def _add_term(self, scores: np.ndarray, t: int, c: int, stats: "TermStats | None" = None) -> None:
        s, e = int(self.indptr[t]), int(self.indptr[t + 1])
        if s < e:
            w = self._weights(t, s, e, stats)
            np.add.at(scores, self.rows[s:e], w if c == 1 else w * np.float32(c))  # faster than a[i] += w

    def _pruned_top(self, tids: np.ndarray, counts: np.ndarray, k: int, stats: "TermStats | None" = None,
                    dead: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the exact top k (MaxScore, term at a time): terms are scored from the
        highest upper bound (rare terms, short lists) down; before a long list, if the k-th
        best partial score θ exceeds the sum of the upper bounds still to come, no document
        the scored terms missed can reach the top k, so the remaining (common, long) terms are
        only looked up for the candidates that still can (binary search in their sorted rows).
        With `stats` (a segment of a larger collection) the weights and bounds are that
        collection's; `dead` rows (tombstoned) score 0."""
        scores = np.zeros(len(self.ids), dtype=np.float32)
        self._floor.value, self._floor.cand = 0.0, None
        lens = (np.asarray(self.indptr[tids + 1]) - np.asarray(self.indptr[tids])).astype(np.int64)
        maxw = np.asarray(self.maxw[tids], dtype=np.float64) if stats is None else np.array(
            [stats.ub[t] for t in tids.tolist()], dtype=np.float64)
        ub = maxw * counts
        order = np.lexsort((lens, -ub))
        rest = float(ub.sum())
        cand = None
        checks = 0
        for i in order.tolist():
            t, c = int(tids[i]), np.asarray(counts)[i].item()  # an int, or a float scale (segments)
            if lens[i] == 0:  # a term whose documents were all removed
                continue
            if cand is None and lens[i] >= PRUNE_MIN_POSTINGS and checks < 4:
                checks += 1
                if dead is not None and len(dead):
                    scores[dead] = 0
                top = top_positions(scores, k)
                theta = float(scores[top[-1]]) if len(top) == k else 0.0
                if theta > rest * 1.0001:  # float32 sums: keep a margin
                    cand = np.flatnonzero(scores >= np.float32(theta - rest * 1.0001))
                    cand_rows = cand.astype(self.rows.dtype)
                    self._floor.value = theta  # a row outside `cand` ends below this
                    self._floor.cand = cand
            if cand is None:
                self._add_term(scores, t, c, stats)
            elif len(cand):
                s, e = int(self.indptr[t]), int(self.indptr[t + 1])
                rows = self.rows[s:e]
                p = np.searchsorted(rows, cand_rows)  # same dtype: no int64 copy of the whole list
                p[p == len(rows)] = len(rows) - 1
                hit = rows[p] == cand_rows
                w = self._weights(t, s, e, stats, at=p[hit], rows=cand[hit])
                scores[cand[hit]] += w if c == 1 else w * np.float32(c)  # candidates are unique
            rest -= ub[i]
        if dead is not None and len(dead):
            scores[dead] = 0
        top = top_positions(scores, k, cand) if cand is not None else top_positions(scores, k)
        return top, scores

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every row for query `tokens` (bm25s's `get_scores`)."""
        if len(self.ids) == 0:
            return np.zeros(0, dtype=np.float32)
        tids, counts = self.term_ids(tokens)
        return self._accumulate(tids, counts)

    def positions(self, chunk_ids) -> np.ndarray:
        """Row positions of these chunk ids (ids not in the index are left out)."""
        a = np.asarray(list(chunk_ids) if isinstance(chunk_ids, (set, frozenset)) else chunk_ids, dtype=np.int64)
        if a.size == 0 or len(self.ids) == 0:
            return np.zeros(0, np.int64)
        pos = np.searchsorted(self.ids, a)
        ok = pos < len(self.ids)
        ok[ok] = self.ids[pos[ok]] == a[ok]
        return np.unique(pos[ok])

    def search(self, tokens: list[str], k: int, allowed=None) -> list[tuple[int, float]]:
        """(chunk id, score) best first for query `tokens`; only positive scores; restricted
        to `allowed` ids (a set or an array of chunk ids)."""
        if len(self.ids) == 0 or k <= 0:
            return []
        tids, counts = self.term_ids(tokens)
        if len(tids) == 0:
            return []
        if allowed is None:
            top, scores = self._pruned_top(tids, counts, k)
        else:
            scores = self._accumulate(tids, counts)
            top = top_positions(scores, k, self.positions(allowed))
        return [(int(self.ids[r]), float(scores[r])) for r in top if scores[r] > 0]

    # -- updating
    def updated(self, remove_ids=(), add_ids=(), add_token_lists: Iterable[list[str]] = ()) -> "LexicalIndex":
        """A new index without `remove_ids` and with the added chunks (whose ids must be larger
        than every id kept); BM25 weights are recomputed for the new collection. Costs array
        operations over the index, not re-tokenizing or re-reading chunk texts."""
        add_ids = np.asarray(add_ids, dtype=np.int64)
        keep = np.ones(len(self.ids), dtype=bool)
        drop = self.positions(np.asarray(list(remove_ids), dtype=np.int64))
        keep[drop] = False
        kept_ids = np.asarray(self.ids)[keep]
        if len(add_ids) and len(kept_ids) and add_ids.min() <= kept_ids[-1]:
            raise ValueError("added chunk ids must be larger than the ids kept")
        new = LexicalBuilder(self.bigrams, self.k1, self.b)
        # known tokens keep their term ids; new ones are numbered after them
        vocab_tokens = [bytes(x).decode("utf-8") for x in np.asarray(self.vocab)]
        tid = np.asarray(self.vocab_tid)
        ordered = [""] * self.n_terms
        for t, i in zip(vocab_tokens, tid.tolist()):
            ordered[i] = t
        new.vocab = {t: i for i, t in enumerate(ordered)}
        new.n = int(keep.sum())
        new.add(add_ids, add_token_lists) if len(add_ids) else None
        n_terms_old = self.n_terms
        # old entries: drop removed rows, renumber the rest
        rows = np.asarray(self.rows)
        tf = np.asarray(self.tf)
        indptr = np.asarray(self.indptr)
        if drop.size:
            newpos = np.cumsum(keep, dtype=np.int64) - 1
            ekeep = keep[rows]
            kept_before = np.zeros(len(rows) + 1, dtype=np.int64)
            np.cumsum(ekeep, out=kept_before[1:])
            counts_old = kept_before[indptr[1:]] - kept_before[indptr[:-1]]
            rows = newpos[rows[ekeep]].astype(np.int32)
            tf = tf[ekeep]
        else:
            counts_old = np.diff(indptr)
        n_terms = len(new.vocab)
        counts_old = np.concatenate([counts_old, np.zeros(n_terms - n_terms_old, np.int64)])
        # new entries, grouped by term
        if new._terms:
            t_new = new._terms[0]
            order = np.argsort(t_new, kind="stable")
            t_new, r_new, f_new = t_new[order], new._rows[0][order], new._tf[0][order]
            counts_new = np.bincount(t_new, minlength=n_terms)
        else:
            t_new = r_new = np.zeros(0, np.int32)
            f_new = np.zeros(0, np.uint16)
            counts_new = np.zeros(n_terms, np.int64)
        final = np.zeros(n_terms + 1, dtype=np.int64)
        np.cumsum(counts_old + counts_new, out=final[1:])
        nnz = int(final[-1])
        out_rows = np.empty(nnz, dtype=np.int32)
        out_tf = np.empty(nnz, dtype=np.uint16)
        if len(rows):
            old_start = np.zeros(n_terms + 1, dtype=np.int64)
            np.cumsum(counts_old, out=old_start[1:])
            # destination of old entry j of term t: final[t] + (j - old_start[t])
            shift = (final[:-1] - old_start[:-1])
            dest = np.arange(len(rows), dtype=np.int64) + np.repeat(shift, counts_old)
            out_rows[dest] = rows
            out_tf[dest] = tf
            del dest
        if len(t_new):
            new_start = np.zeros(n_terms + 1, dtype=np.int64)
            np.cumsum(counts_new, out=new_start[1:])
            dest = (np.arange(len(t_new), dtype=np.int64)
                    + np.repeat(final[:-1] + counts_old - new_start[:-1], counts_new))
            out_rows[dest] = r_new
            out_tf[dest] = f_new
        doclen = np.concatenate([np.asarray(self.doclen)[keep], *(new._dl or [])]).astype(np.int32)
        ids = np.concatenate([kept_ids, add_ids]).astype(np.int64)
        weights = _bm25_weights(final, out_rows, out_tf, doclen, self.k1, self.b)
        tokens = list(new.vocab)
        live = (counts_old + counts_new) > 0
        if not live.all():  # terms only removed documents had: drop them (columns hold no entries)
            final = np.concatenate([[0], final[1:][live]]).astype(np.int64)
            tokens = [t for t, ok in zip(tokens, live.tolist()) if ok]
        vocab, vocab_tid = _vocab_arrays(tokens)
        return LexicalIndex(ids, vocab, vocab_tid, final, out_rows, out_tf, weights, doclen, None, self.bigrams,
                            self.k1, self.b)

    def lookup(self, tokens: list[str]) -> np.ndarray:
        """Term id of each token, -1 where the index does not know it."""
        out = np.full(len(tokens), -1, dtype=np.int64)
        if not tokens or len(self.vocab) == 0:
            return out
        width = self.vocab.dtype.itemsize
        enc = [t.encode("utf-8") for t in tokens]
        keep = [i for i, x in enumerate(enc) if len(x) <= width]
        if not keep:
            return out
        q = np.array([enc[i] for i in keep], dtype=self.vocab.dtype)
        pos = np.minimum(np.searchsorted(self.vocab, q), len(self.vocab) - 1)
        hit = self.vocab[pos] == q
        out[np.asarray(keep)[hit]] = np.asarray(self.vocab_tid[pos[hit]], dtype=np.int64)
        return out

    def df_of(self, tids: np.ndarray) -> np.ndarray:
        """Document frequency of these term ids (0 for -1)."""
        tids = np.asarray(tids, dtype=np.int64)
        out = np.zeros(len(tids), dtype=np.int64)
        ok = tids >= 0
        if ok.any():
            out[ok] = np.asarray(self.indptr[tids[ok] + 1]) - np.asarray(self.indptr[tids[ok]])
        return out

    # -- persistence
    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in _FILES:
            np.save(folder / f"{name}.npy", np.asarray(getattr(self, name)))
        (folder / "lexical.json").write_text(
            json.dumps({"tokenizer": TOKENIZER_VERSION, "format": INDEX_FORMAT, "bigrams": self.bigrams,
                        "n": len(self.ids), "terms": self.n_terms, "entries": int(len(self.rows)),
                        "k1": self.k1, "b": self.b}),
            encoding="utf-8",
        )

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "LexicalIndex":
        """Read a saved index; with `mmap` the arrays are mapped, not read (pages come in as
        queries touch them)."""
        folder = Path(folder)
        info = json.loads((folder / "lexical.json").read_text(encoding="utf-8"))
        if info.get("format") != INDEX_FORMAT:
            raise ValueError(f"lexical index format {info.get('format')!r}, expected {INDEX_FORMAT!r}")
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None) for name in _FILES}
        if len(arrays["ids"]) != info["n"]:
            raise ValueError("lexical index files disagree")
        return cls(**arrays, bigrams=info.get("bigrams", True), k1=info.get("k1", K1), b=info.get("b", B))


class TermStats:
    """Per-query BM25 statistics of a whole collection for one of its segments: idf and upper
    bound by the segment's term id, the length normalisation by its row."""

    __slots__ = ("idf", "ub", "norm")

    def __init__(self, idf: dict, ub: dict, norm: np.ndarray):
        self.idf, self.ub, self.norm = idf, ub, norm
