"""The pages' message catalogue, one module per area (zh-CN, English).

Each module holds ``MESSAGES`` for its pages; :func:`merged` joins them into the one catalogue
``healthbridge.web.i18n`` serves, refusing a key defined twice (a later definition would
silently win in a dict literal).
"""

from __future__ import annotations

from collections.abc import Mapping

from healthbridge.web.catalogue import centre, child, district, frame

AREAS = (frame, child, centre, district)


def merged() -> dict[str, tuple[str, str]]:
    """Every area's messages in one mapping; ``ValueError`` on a key in two areas."""
    out: dict[str, tuple[str, str]] = {}
    for area in AREAS:
        catalogue: Mapping[str, tuple[str, str]] = area.MESSAGES
        twice = out.keys() & catalogue.keys()
        if twice:
            raise ValueError(f"message keys defined twice: {sorted(twice)}")
        out.update(catalogue)
    return out
