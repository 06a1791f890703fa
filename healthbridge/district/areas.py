"""Jurisdictions: province > city > county/district > centre, and an official's area.

The hierarchy is the record's Organizations: an area is an ``Organization`` typed with one of
:data:`LEVELS` in CodeSystem ``organization-kind`` (``province`` 省, ``city`` 市, ``district``
县/区), and every organisation names the area it belongs to in ``Organization.partOf`` (FHIR R4
§8.2 Organization: "The organization of which this organization forms a part"); a childcare
centre's ``partOf`` is its county/district.

An official's area is the organisation of their PractitionerRole (staff-role
``district-official``): reports are computed over the children of the centres under it, at
any depth (:func:`official_area`). An official without an organisation (the deployment's own
platform account, the demo's district bureau) and the admin and system roles see the whole
database, as before jurisdictions existed.

Areas are filters on the one gathered district of the database (:class:`healthbridge.district.
cache.DistrictCache`): :func:`narrow` keeps the rows of the children of a set of centres; the
district is never gathered per area. Children are placed by the centre of their (last)
enrolment; children enrolled in no centre count only in the whole database's figures.

Hand-written: the tree is a few dictionaries over the Organizations (a few thousand in a
province); no library models FHIR ``partOf`` chains.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from healthbridge import terminology as t
from healthbridge.district import area_population
from healthbridge.errors import ForbiddenError
from healthbridge.fhir import facts

if TYPE_CHECKING:
    from healthbridge.district.frames import DistrictFrames
    from healthbridge.store.hooks import RequestContext
    from healthbridge.store.repository import Repository

#: The administrative levels above a centre, top down (codes of CodeSystem organization-kind).
LEVELS: Final = ("province", "city", "district")
CENTRE_LEVEL: Final = "centre"
#: The staff-role code of a health official's PractitionerRole.
OFFICIAL_CODE: Final = "district-official"
STAFF_ROLE_SYSTEM: Final = f"{t.CANONICAL_BASE}/CodeSystem/staff-role"
CENTRE_KIND: Final = "childcare-centre"


@dataclass(frozen=True, slots=True)
class Area:
    """One organisation of the hierarchy: an area (``level`` one of :data:`LEVELS`) or a
    centre (``level`` :data:`CENTRE_LEVEL`); ``parent``: its ``partOf`` (``None`` at the
    top); ``population``: the resident population its own ``area-population`` extension
    carries (:mod:`healthbridge.district.area_population` rolls it up)."""

    id: str
    name: str
    level: str
    parent: str | None
    population: int | None = None


def _kinds(org: Mapping[str, Any]) -> list[str]:
    return [
        str(c.get("code"))
        for tp in org.get("type") or ()
        for c in (tp.get("coding") or ())
        if c.get("system") == t.CS_ORG_KIND
    ]


@dataclass(frozen=True)
class AreaTree:
    """The areas and centres of a database, keyed by Organization id."""

    nodes: Mapping[str, Area]

    @classmethod
    def of(cls, organizations: list[dict[str, Any]]) -> AreaTree:
        """The tree of the Organizations (parsed whole); inactive ones are left out."""
        nodes: dict[str, Area] = {}
        for org in organizations:
            if org.get("active") is False:
                continue
            kinds = _kinds(org)
            level: str | None = next((k for k in LEVELS if k in kinds), None)
            if level is None and CENTRE_KIND in kinds:
                level = CENTRE_LEVEL
            if level is None:
                continue
            parent = facts.ref_id(org.get("partOf"), "Organization")
            population = area_population.read(org) if level in LEVELS else None
            nodes[org["id"]] = Area(
                org["id"], str(org.get("name") or org["id"]), level, parent, population
            )
        return cls(nodes)

    def chain(self, node: str) -> list[str]:
        """``node`` and its ancestors, bottom up (a ``partOf`` cycle or unknown parent stops
        the walk)."""
        out: list[str] = []
        current: str | None = node
        while current is not None and current in self.nodes and current not in out:
            out.append(current)
            current = self.nodes[current].parent
        return out

    def is_area(self, node: str) -> bool:
        return node in self.nodes and self.nodes[node].level in LEVELS

    def centres_under(self, area: str | None) -> frozenset[str]:
        """The centres under ``area`` at any depth (every centre when ``None``)."""
        return frozenset(
            n.id
            for n in self.nodes.values()
            if n.level == CENTRE_LEVEL and (area is None or area in self.chain(n.id)[1:])
        )

    def sub_area(self, area: str | None, centre: str) -> str | None:
        """The child of ``area`` on the way down to ``centre`` (the centre itself when it is
        a direct child; the topmost area when ``area`` is ``None``); ``None`` when the centre
        is not under ``area``."""
        chain = self.chain(centre)
        if area is None:
            return chain[-1] if chain else centre
        if area not in chain[1:]:
            return None
        return chain[chain.index(area) - 1]

    def sub_areas(self, area: str | None) -> list[Area]:
        """The children of ``area`` that have centres under them, by name."""
        found = {self.sub_area(area, c) for c in self.centres_under(area)}
        return sorted(
            (self.nodes[n] for n in found if n is not None and n in self.nodes),
            key=lambda a: (a.name, a.id),
        )

    def name(self, node: str) -> str:
        return self.nodes[node].name if node in self.nodes else node


def read_tree(repo: Repository) -> AreaTree:
    """The tree of the current Organizations (one column scan, like the district read)."""
    from healthbridge.district import read

    with repo.engine.connect() as conn:
        return AreaTree.of(read.organizations(conn))


def official_area(
    repo: Repository, context: RequestContext, tree: AreaTree | None = None
) -> str | None:
    """The area whose figures the caller may see: ``None`` for the whole database.

    An official whose ``fhirUser`` is a PractitionerRole gets that record's organisation
    (the record, not a token claim, decides; the role must be active and coded
    ``district-official``); an official token without ``fhirUser`` keeps its organisation
    claim (provider-asserted, as for practitioners, docs/access.md); other roles, and an
    official without an organisation, see the whole database. The organisation must be an
    active area of the tree (403 otherwise: an official of a deleted area sees nothing)."""
    from healthbridge.access.tokens import Role
    from healthbridge.store.hooks import SYSTEM_CONTEXT

    # the authenticated Principal travels in the context's access control (access/http.py)
    principal = getattr(context.access, "principal", None) or context.principal
    if getattr(principal, "role", None) != Role.DISTRICT_OFFICIAL:
        return None
    fhir_user = getattr(principal, "fhir_user", None)
    area: str | None = getattr(principal, "organization", None)
    if fhir_user:
        kind, _, rid = str(fhir_user).partition("/")
        if kind != "PractitionerRole":
            raise ForbiddenError("A health official's fhirUser must name their PractitionerRole")
        with repo.transaction(SYSTEM_CONTEXT, write=False, plain=True) as txn:
            role = txn.read("PractitionerRole", rid).resource or {}
        codes = {
            str(c.get("code"))
            for concept in role.get("code") or ()
            for c in concept.get("coding") or ()
            if c.get("system") == STAFF_ROLE_SYSTEM
        }
        if role.get("active") is False or OFFICIAL_CODE not in codes:
            raise ForbiddenError(f"{fhir_user} is not an active health official's role")
        area = facts.ref_id(role.get("organization"), "Organization")
    if area is None:
        return None
    area = area.removeprefix("Organization/")
    if not (tree if tree is not None else read_tree(repo)).is_area(area):
        raise ForbiddenError(f"The official's organisation {area} is not an active area")
    return area


def check_area(tree: AreaTree, reach: str | None, asked: str | None) -> str | None:
    """The area a request reports on: ``asked`` (an ``?area=`` parameter) when it is the
    caller's ``reach`` or under it, else the reach; 403 for an area outside the reach (or
    no area at all: the caller may not tell an unknown area from another's)."""
    if not asked:
        return reach
    if not tree.is_area(asked) or (reach is not None and reach not in tree.chain(asked)):
        raise ForbiddenError(f"The area {asked} is not in the caller's jurisdiction")
    return asked


def narrow(frames: DistrictFrames, centres: frozenset[str]) -> DistrictFrames:
    """The rows of ``frames`` that belong to the children of ``centres`` (and the centres'
    own rows): a filter of the one gathered district, nothing is read again."""
    from healthbridge.district.frames import DistrictFrames

    children = frames.children.loc[frames.children["centre"].isin(centres)]
    ids = set(children["child_id"])

    def of_children(frame: Any) -> Any:
        return frame.loc[frame["child_id"].isin(ids)]

    return DistrictFrames(
        children=children,
        measurements=of_children(frames.measurements),
        checkups=of_children(frames.checkups),
        vaccinations=of_children(frames.vaccinations),
        centres=frames.centres.loc[frames.centres["centre"].isin(centres)],
        agreements=frames.agreements.loc[frames.agreements["centre"].isin(centres)],
        admission_checks=frames.admission_checks.loc[
            frames.admission_checks["centre"].isin(centres)
        ],
    )
