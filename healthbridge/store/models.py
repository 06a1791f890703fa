"""SQLModel tables: current resources, every version, and search index tables.

The resource JSON is stored as text exactly as received and validated (plus ``id``/``meta``
set by the server): that text is the record. Index tables hold one row per extracted search
value of the *current* version, keyed by ``(res_type, res_id)``; each lookup index ends with
``res_id`` so that both ``res_id IN (...)`` drivers and correlated ``EXISTS`` probes are
answered from the index alone; dates are fixed-width UTC text
ranges (see :mod:`healthbridge.fhir.values`).
"""

from __future__ import annotations

from typing import Any, Final

from sqlalchemy import BigInteger, Column, Float, Index, Integer, Table, Text
from sqlmodel import AutoString, Field, SQLModel


def _pk() -> Column[int]:
    # BIGINT on PostgreSQL; SQLite needs exactly INTEGER PRIMARY KEY for its rowid alias.
    return Column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


class ResourceRow(SQLModel, table=True):
    """The current version of each resource (deleted ones keep a tombstone row)."""

    __tablename__ = "resource"
    __table_args__ = (Index("ix_resource_updated", "res_type", "last_updated"),)
    res_type: str = Field(primary_key=True, max_length=64)
    res_id: str = Field(primary_key=True, max_length=64)
    version_id: int
    last_updated: str = Field(max_length=32)  # index form, UTC
    deleted: bool = False
    content: str = Field(sa_column=Column(Text, nullable=False))


class ResourceVersionRow(SQLModel, table=True):
    """Every version ever written; ``(res_type, res_id, version_id)`` is unique.

    ``content`` is NULL for the current version, whose JSON is held once, in its ``resource``
    row (:func:`healthbridge.store.stored.versions`); replacing or deleting a resource moves
    the former current JSON into its version row (``Transaction._replace_current``).
    """

    __tablename__ = "resource_version"
    res_type: str = Field(primary_key=True, max_length=64)
    res_id: str = Field(primary_key=True, max_length=64)
    version_id: int = Field(primary_key=True)
    last_updated: str = Field(max_length=32)
    deleted: bool = False
    method: str = Field(max_length=8)  # POST | PUT | DELETE
    content: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


def _index_table(name: str, *columns: Column[Any], indexes: dict[str, tuple[str, ...]]) -> Table:
    """A search-index (or compartment) table: the owning resource, then ``columns``.

    No surrogate key (migration 0017): no query reads one, and on PostgreSQL its sequence and
    unique index were about a tenth of the cost of inserting an index row and 1.4 GB of a
    100,000-child district (bench/results/storage.md). SQLite keeps its implicit ``rowid``.
    """
    return Table(
        name,
        SQLModel.metadata,
        _text("res_type", 64),
        _text("res_id", 64),
        *columns,
        *(Index(ix, *cols) for ix, cols in indexes.items()),
    )


def _text(name: str, length: int, *, nullable: bool = False) -> Column[str]:
    return Column(name, AutoString(length), nullable=nullable)


def _param() -> Column[str]:
    return _text("param", 64)


TOKEN_INDEX: Final = _index_table(
    "idx_token",
    _param(),
    _text("system", 255, nullable=True),
    _text("code", 255),
    indexes={
        "ix_idx_token_lookup": ("res_type", "param", "code", "system", "res_id"),
        "ix_idx_token_owner": ("res_type", "res_id", "param", "code", "system"),
    },
)
STRING_INDEX: Final = _index_table(
    "idx_string",
    _param(),
    _text("value", 255),  # folded (lower case, no accents)
    _text("exact", 255),
    indexes={
        "ix_idx_string_lookup": ("res_type", "param", "value", "res_id"),
        "ix_idx_string_owner": ("res_type", "res_id"),
    },
)
DATE_INDEX: Final = _index_table(
    "idx_date",
    _param(),
    _text("low", 32),
    _text("high", 32),
    indexes={
        "ix_idx_date_lookup": ("res_type", "param", "low", "high", "res_id"),
        "ix_idx_date_owner": ("res_type", "res_id", "param", "low", "high"),
    },
)
REFERENCE_INDEX: Final = _index_table(
    "idx_reference",
    _param(),
    _text("target_type", 64, nullable=True),
    _text("target_id", 64, nullable=True),
    _text("url", 512),
    indexes={
        "ix_idx_reference_lookup": ("res_type", "param", "target_id", "target_type", "res_id"),
        "ix_idx_reference_target": ("target_type", "target_id"),
        "ix_idx_reference_owner": ("res_type", "res_id"),
    },
)
QUANTITY_INDEX: Final = _index_table(
    "idx_quantity",
    _param(),
    Column("value", Float, nullable=False),
    _text("system", 255, nullable=True),
    _text("code", 255, nullable=True),
    indexes={
        "ix_idx_quantity_lookup": ("res_type", "param", "code", "value", "res_id"),
        "ix_idx_quantity_owner": ("res_type", "res_id"),
    },
)
NUMBER_INDEX: Final = _index_table(
    "idx_number",
    _param(),
    Column("value", Float, nullable=False),
    indexes={
        "ix_idx_number_lookup": ("res_type", "param", "value", "res_id"),
        "ix_idx_number_owner": ("res_type", "res_id"),
    },
)
URI_INDEX: Final = _index_table(
    "idx_uri",
    _param(),
    _text("value", 512),
    indexes={
        "ix_idx_uri_lookup": ("res_type", "param", "value", "res_id"),
        "ix_idx_uri_owner": ("res_type", "res_id"),
    },
)

#: Index table per search parameter type.
INDEX_TABLES: Final[dict[str, Table]] = {
    "token": TOKEN_INDEX,
    "string": STRING_INDEX,
    "date": DATE_INDEX,
    "reference": REFERENCE_INDEX,
    "quantity": QUANTITY_INDEX,
    "number": NUMBER_INDEX,
    "uri": URI_INDEX,
}

#: Patient-compartment membership of the *current* version of a resource.
#:
#: Filled at write time from the reference index rows named by the R4 Patient
#: CompartmentDefinition (http://hl7.org/fhir/R4/compartmentdefinition-patient.html); a
#: Patient is in its own compartment. Access control filters searches by it in SQL. A
#: deletion keeps the last membership, so a deleted record stays outside the reach of other
#: callers. ``ix_compartment_patient`` leads with the patient: the access rules ask for the
#: members of the children in reach (``patient_id IN (…)``, any type) — a seek per child, not
#: a scan of the table.
COMPARTMENT_TABLE: Final = _index_table(
    "compartment",
    _text("patient_id", 64),
    indexes={
        "ix_compartment_patient": ("patient_id", "res_type", "res_id"),
        "ix_compartment_owner": ("res_type", "res_id", "patient_id"),
    },
)


class PatientLinkRow(SQLModel, table=True):
    """Who is linked to a child, and how: the facts that decide access (reach).

    One row per fact stated by a source resource (``src_type/src_id``): ``guardian`` (a
    RelatedPerson), ``enrolment`` (a childcare centre), ``consent:<ActReason code>`` (an
    organisation the guardian permitted, one row per purpose), ``referral`` (an organisation
    an active ServiceRequest by an entitled writer refers the child to, dated by its window).
    Only facts that grant access are stored; the date period is compared with today at
    request time. Rows are replaced
    whenever the source resource changes and removed when it is deleted.
    """

    __tablename__ = "patient_link"
    __table_args__ = (
        Index("ix_patient_link_party", "party", "kind", "patient_id"),
        Index("ix_patient_link_source", "src_type", "src_id"),
    )
    pk: int | None = Field(default=None, sa_column=_pk())
    src_type: str = Field(max_length=64)
    src_id: str = Field(max_length=64)
    patient_id: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    party: str = Field(max_length=200)  # "RelatedPerson/x", "Organization/y"
    start: str | None = Field(default=None, max_length=10)  # YYYY-MM-DD, inclusive
    end: str | None = Field(default=None, max_length=10)  # YYYY-MM-DD, inclusive


class RuleInputRow(SQLModel, table=True):
    """Typed rule inputs of a current resource (:mod:`healthbridge.store.rule_inputs`).

    One row per current Patient, Observation (measurements, not derived scores), Encounter,
    Immunization and QuestionnaireResponse, written with the resource version and removed when
    it is replaced or deleted. SQLite stores it ``WITHOUT ROWID`` (clustered by the primary
    key), so the rows of one type are one range scan.
    """

    __tablename__ = "rule_input"
    __table_args__ = ({"sqlite_with_rowid": False},)
    res_type: str = Field(primary_key=True, max_length=64)
    res_id: str = Field(primary_key=True, max_length=64)
    child_id: str | None = None
    status: str | None = None
    code: str | None = None
    day: str | None = None  # YYYY-MM-DD as written (local time)
    value: float | None = None
    unit: str | None = None
    encounter_id: str | None = None
    written: str | None = None  # meta.lastUpdated
    extra: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class RuleInputStateRow(SQLModel, table=True):
    """State of the rule-input table: ``extractor`` → the extractor version the whole table
    was built with (absent: rows may be missing, the table must be rebuilt)."""

    __tablename__ = "rule_input_state"
    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=64)


# the sign-in tables share this metadata (migrations compare against it)
from healthbridge.store import account_models as _account_models  # noqa: E402, F401
from healthbridge.store import export_models as _export_models  # noqa: E402, F401
from healthbridge.store import notify_models as _notify_models  # noqa: E402, F401
from healthbridge.store import outbox_models as _outbox_models  # noqa: E402, F401
