"""Every match of a search, page by page: the one paging loop of the code that reads the
store through a :class:`~healthbridge.store.repository.Transaction` (pipeline, charts, pages).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from healthbridge.store.repository import StoredResource, Transaction


def search_all(
    txn: Transaction,
    rtype: str,
    params: Sequence[tuple[str, str]],
    *,
    page_size: int | None = None,
) -> Iterator[StoredResource]:
    """Every match of a search (and its ``_include``/``_revinclude``d resources), page by page
    at the transaction's largest page size, until a page is short or empty. ``_total=none``:
    the store does not count the matches of each full page (a second query over the whole
    result, with the reach rules: ~2 s a page for a paediatrician at 10,000 children).

    ``page_size`` (above the API's largest page) is for the server's own reads that need
    every match of a large result at once (a page that sorts thousands of records): each page
    after the first re-runs the search and skips the matches before it (``OFFSET``), reach
    rules included, so reading 14,000 Flags 1,000 at a time evaluated the search 14 times
    over a growing prefix (half the time of the paediatrician's list at 10,000 children)."""
    size = max(page_size or 0, txn.max_count)
    offset = 0
    while True:
        largest = txn.max_count
        txn.max_count = size  # the page size a search may ask for (restored at once)
        try:
            page = txn.search_params(
                rtype,
                [*params, ("_count", str(size)), ("_offset", str(offset)), ("_total", "none")],
            )
        finally:
            txn.max_count = largest
        yield from page.matches
        yield from page.included
        offset += len(page.matches)
        if len(page.matches) < page.query.count or (
            page.total is not None and offset >= page.total
        ):
            return
