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


def doc_chain(meta) -> tuple[str, ...]:
    """A document's place and the places above it: its region's chain; for a township the
    gazetteer lacks (DocMeta.county set), the township and then its county's chain."""
    chain = region_chain(meta.region)
    county = getattr(meta, "county", UNKNOWN)
    if not chain and meta.region != UNKNOWN and county != UNKNOWN:
        chain = (meta.region,) + region_chain(county)
    return chain


_LEVEL_ORDER = {rg.PROVINCE: 0, rg.CITY: 1, rg.COUNTY: 2, rg.TOWNSHIP: 3}


def own_place_names(meta) -> set[str]:
    """Every name of the place a document's title and issuer name as its own: in each, the most
    specific place named, since the others only qualify it ("龙岩市新罗区人民政府东城街道办事处"
    is 东城街道's, not 龙岩市's); a township the gazetteer lacks counts by its name."""
    names: set[str] = set()
    for head in (meta.title, meta.issuer):
        if not head or head == UNKNOWN:
            continue
        found = [(_LEVEL_ORDER.get(m[0].level, 0), m[0].names) for m in rg.find_regions(head)]
        found += [(_LEVEL_ORDER[rg.TOWNSHIP], (name,)) for name, _, _ in rg.township_names(head)]
        top = max((level for level, _ in found), default=None)
        names |= {n for level, ns in found if level == top for n in ns}
    return names


class DocList(list):
    """The indexed documents (DocRecords) with their place → documents maps (see above)."""

    _by_place: dict[str, dict[str, int]] | None = None
    _titled: dict[str, set[str]] | None = None

    def titled(self) -> dict[str, set[str]]:
        """Place name → the documents whose title or issuer names it as their own (see
        `own_place_names`): a document is about the places its own title and issuer name,
        whatever its region field says."""
        if self._titled is None:
            by: dict[str, set[str]] = {}
            for d in self:
                for n in own_place_names(d.meta):
                    by.setdefault(n, set()).add(d.doc_id)
            self._titled = by
        return self._titled

    def by_place(self) -> dict[str, dict[str, int]]:
        if self._by_place is None:
            by: dict[str, dict[str, int]] = {}
            for d in self:
                chain = doc_chain(d.meta)
                for i, name in enumerate(chain):
                    by.setdefault(name, {})[d.doc_id] = EXACT if i == 0 else INSIDE
            self._by_place = by
        return self._by_place
