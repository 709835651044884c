"""BM25 over a segmented version (`rag.index.layout`): the shared base arrays less their
tombstoned rows plus the delta's arrays, scored with the live collection's statistics so that
the scores are those of one index built over the live chunks (`SegmentedLexical`)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from rag.index.lexical import LexicalIndex, TermStats, top_positions


def _idf(n: int, df: np.ndarray) -> np.ndarray:
    df = np.asarray(df, dtype=np.float64)
    return np.log(1.0 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)


def _norm(doclen: np.ndarray, avgdl: float, k1: float, b: float) -> np.ndarray:
    return (k1 * ((1.0 - b) + b * np.asarray(doclen).astype(np.float64) / avgdl)).astype(np.float32)


class SegmentedLexical:
    """A segmented version's BM25: the shared base arrays less their tombstoned rows (`dead`
    holds those rows' tokens, for the statistics) plus the delta's arrays, scored with the
    statistics of the live collection (N, document frequency, average length): the scores are
    those of one index built over the live chunks. Searches return (chunk id, score) as
    `LexicalIndex.search` does."""

    def __init__(self, base: LexicalIndex, delta: LexicalIndex, dead: LexicalIndex):
        self.base, self.delta, self.dead = base, delta, dead
        self.bigrams, self.k1, self.b = base.bigrams, base.k1, base.b
        self.dead_pos = base.positions(np.asarray(dead.ids))
        self._arrays = (np.asarray(base.indptr), np.asarray(base.rows), np.asarray(base.tf))
        if len(self.dead_pos) != len(dead):
            raise ValueError("tombstoned rows missing from the base lexical index")
        self.n = len(base) - len(dead) + len(delta)
        total = (float(np.asarray(base.doclen, dtype=np.int64).sum()) - float(np.asarray(dead.doclen, np.int64).sum())
                 + float(np.asarray(delta.doclen, np.int64).sum()))
        self.avgdl = (total / self.n if self.n else 0.0) or 1.0
        n_base = len(base)
        self._base_avgdl = float(np.asarray(base.doclen).mean()) if n_base else 1.0
        self._norm_base = _norm(base.doclen, self.avgdl, self.k1, self.b)
        self._norm_delta = _norm(delta.doclen, self.avgdl, self.k1, self.b)
        # a base weight's tf part grows at most by this factor under the new average length
        self._ub_slack = max(1.0, self.avgdl / self._base_avgdl) * 1.0001

    def __len__(self) -> int:
        return self.n

    @property
    def n_terms(self) -> int:
        return self.base.n_terms

    def _base_search(self, tids: np.ndarray, counts: np.ndarray, idf: np.ndarray, k: int, allowed) -> list:
        """The base's top k under the live collection's statistics. Fast path: the stored
        weights scaled per term by idf_live / idf_base (the plain index's own search, pruning
        included) give scores within a factor [lo, hi] of the exact ones (only the average
        length moved); the best 2k are rescored exactly, and when the k-th exact score beats
        hi × the 2k-th approximate one nobody outside can enter the top k. Otherwise (ties at
        the cut, or a large shift) every entry is weighted exactly."""
        base = self.base
        base_idf = _idf(len(base), base.df_of(tids)).astype(np.float64)
        scale = (idf.astype(np.float64) / base_idf) * counts
        rho = self.avgdl / self._base_avgdl
        hi = max(1.0, rho) * 1.00002  # exact <= hi × approximate (and float32 rounding)
        lo = min(1.0, rho) / 1.00002  # exact >= lo × approximate
        if allowed is None:
            top, approx = base._pruned_top(tids, scale, k, None, self.dead_pos)
            # rows outside `cand` may hold partial sums, all below `floor`; the others are complete
            floor, src = float(base._floor.value), base._floor.cand
        else:
            approx = base._accumulate(tids, scale)
            approx[self.dead_pos] = 0
            src = base.positions(allowed)
            top = top_positions(approx, k, src)
            floor = 0.0
        top = top[approx[top] > 0]
        if not len(top):
            return []
        if len(top) < k:
            pool = top  # every row with a positive score
        else:
            # the k-th exact score is at least lo × the k-th approximate one; a row can reach it
            # only if hi × its approximate score does: those rows are all rescored exactly
            thr = lo * float(approx[top[-1]]) / hi
            if thr < floor:
                return self._base_exact(tids, counts, idf, k, allowed)
            thr32 = np.float32(thr)
            pool = src[approx[src] >= thr32] if src is not None else np.flatnonzero(approx >= thr32)
            pool = np.union1d(pool, top)
        exact = self._exact_at(tids, counts, idf, pool)
        order = np.lexsort((pool, -exact))[:k]
        return [(int(base.ids[pool[i]]), float(exact[i])) for i in order.tolist() if exact[i] > 0]

    def _exact_at(self, tids, counts, idf, pos: np.ndarray) -> np.ndarray:
        """Exact scores of these base rows (sorted or not), term by term."""
        base = self.base
        out = np.zeros(len(pos), dtype=np.float32)
        if not len(pos):
            return out
        norm = self._norm_base[pos]
        pos_rows = np.asarray(pos).astype(base.rows.dtype)  # searchsorted casts a mismatched list whole
        indptr, all_rows, all_tf = self._arrays  # plain views of the mapped files (no memmap slicing cost)
        for t, c, g in zip(tids.tolist(), counts.tolist(), idf.tolist()):
            s, e = int(indptr[t]), int(indptr[t + 1])
            if s >= e:
                continue
            rows = all_rows[s:e]
            p = np.searchsorted(rows, pos_rows)
            p[p == len(rows)] = len(rows) - 1
            hit = rows[p] == pos_rows
            if not hit.any():
                continue
            tf = all_tf[s + p[hit]].astype(np.float32)
            w = np.float32(g) * (tf / (tf + norm[hit]))
            out[hit] += w if c == 1 else w * np.float32(c)
        return out

    def _base_exact(self, tids, counts, idf, k: int, allowed) -> list:
        """Every entry weighted with the live statistics (bounds scaled from the base's)."""
        base = self.base
        base_idf = _idf(len(base), base.df_of(tids))
        maxw = np.asarray(base.maxw[tids], dtype=np.float64)
        ub = {int(t): float(m / bi * gi * self._ub_slack)
              for t, m, bi, gi in zip(tids.tolist(), maxw.tolist(), base_idf.tolist(), idf.tolist())}
        stats = TermStats({int(t): np.float32(g) for t, g in zip(tids.tolist(), idf.tolist())}, ub, self._norm_base)
        if allowed is None:
            top, scores = base._pruned_top(tids, counts, k, stats, self.dead_pos)
        else:
            scores = base._accumulate(tids, counts, stats)
            scores[self.dead_pos] = 0
            top = top_positions(scores, k, base.positions(allowed))
        return [(int(base.ids[r]), float(scores[r])) for r in top if scores[r] > 0]

    def _terms(self, tokens: list[str]):
        """The query's distinct tokens, their counts, term ids per segment and global idf."""
        counts = Counter(tokens)
        toks = list(counts)
        tb, td, tx = self.base.lookup(toks), self.delta.lookup(toks), self.dead.lookup(toks)
        df = self.base.df_of(tb) - self.dead.df_of(tx) + self.delta.df_of(td)
        return toks, np.array([counts[t] for t in toks], dtype=np.int64), tb, td, df

    def doc_freq(self, tokens: list[str]) -> dict[str, int]:
        out = {t: 0 for t in tokens}
        if not out:
            return out
        toks, _, _, _, df = self._terms(list(out))
        return {t: int(d) for t, d in zip(toks, df.tolist())}

    def search(self, tokens: list[str], k: int, allowed=None) -> list[tuple[int, float]]:
        if self.n == 0 or k <= 0 or not tokens:
            return []
        toks, counts, tb, td, df = self._terms(tokens)
        live = df > 0
        if not live.any():
            return []
        idf = _idf(self.n, df)
        out: list[tuple[int, float]] = []
        ok = live & (tb >= 0)
        if ok.any() and len(self.base):
            out += self._base_search(tb[ok], counts[ok], idf[ok], k, allowed)
        ok = live & (td >= 0)
        if ok.any() and len(self.delta):
            tids = td[ok]
            stats = TermStats({int(t): np.float32(g) for t, g in zip(tids.tolist(), idf[ok].tolist())}, {},
                           self._norm_delta)
            scores = self.delta._accumulate(tids, counts[ok], stats)
            top = top_positions(scores, k, None if allowed is None else self.delta.positions(allowed))
            out += [(int(self.delta.ids[r]), float(scores[r])) for r in top if scores[r] > 0]
        out.sort(key=lambda x: (-x[1], x[0]))
        return out[:k]
