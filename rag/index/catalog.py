"""The indexed documents as a catalog: each document's place chain, and documents by place.

`DocList` is the list of an index's `DocRecord`s with a place → documents map built once, so
that matching the places of a question costs a dictionary lookup, not a pass over tens of
thousands of documents. `Index.documents()` returns one; a plain list works too.
"""

from __future__ import annotations

from functools import lru_cache

from rag.records import UNKNOWN
from rag.text import places as rg

EXACT, INSIDE = 2, 1  # how strongly a document matches a place: its own place, or a place inside it


@lru_cache(maxsize=4096)
def region_chain(region: str) -> tuple[str, ...]:
    r = rg.get(region) if region != UNKNOWN else None
    return tuple(x.name for x in rg.chain(r)) if r else ()


class DocList(list):
    """The indexed documents (DocRecords) with their place → documents map (see above)."""

    _by_place: dict[str, dict[str, int]] | None = None

    def by_place(self) -> dict[str, dict[str, int]]:
        if self._by_place is None:
            by: dict[str, dict[str, int]] = {}
            for d in self:
                chain = region_chain(d.meta.region)
                for i, name in enumerate(chain):
                    by.setdefault(name, {})[d.doc_id] = EXACT if i == 0 else INSIDE
            self._by_place = by
        return self._by_place
