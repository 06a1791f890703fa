"""Bundles: building searchset/history Bundles, and processing batch/transaction Bundles.

Transaction processing follows http://hl7.org/fhir/R4/http.html#trules: entries run in the
order DELETE, POST, PUT, GET; ``urn:uuid:`` full URLs of created resources get their ids before
anything is written, and every reference to them is rewritten; conditional creates
(``ifNoneExist``) resolve to the existing resource, searched once per distinct criteria; a
later entry with the same criteria as an earlier one that creates resolves to that entry's
resource (200, and its ``urn:uuid:`` points there too), as a server processing the entries in
turn would find it. A transaction runs in one database transaction (all or nothing); a batch
runs each entry in its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from healthbridge.errors import BadRequestError, FhirError, Issue, operation_outcome
from healthbridge.fhir import r4
from healthbridge.fhir.searchparams import IndexRows
from healthbridge.store.hooks import RequestContext
from healthbridge.store.repository import (
    Repository,
    SearchResult,
    StoredResource,
    Transaction,
    WriteResult,
    new_id,
)

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
STATUS_TEXT = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified"}


def _summarise(resource: dict[str, Any], query: Any) -> dict[str, Any]:
    if query is None:
        return resource
    out = resource
    if query.summary == "data":
        out = {k: v for k, v in out.items() if k != "text"}
    if query.elements:
        keep = {"resourceType", "id", "meta", *query.elements}
        out = {k: v for k, v in out.items() if k in keep}
        meta = dict(out.get("meta") or {})
        meta["tag"] = [
            *meta.get("tag", []),
            {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                "code": "SUBSETTED",
            },
        ]
        out["meta"] = meta
    return out


def searchset(
    result: SearchResult, *, base: str, self_link: Callable[[int], str]
) -> dict[str, Any]:
    """A searchset Bundle with self/next/previous links (``self_link(offset)`` builds URLs)."""
    q = result.query
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:  # None with ``_total=none``
        bundle["total"] = result.total
    links = [{"relation": "self", "url": self_link(q.offset)}]
    if q.summary != "count" and q.count > 0:
        more = (
            q.offset + q.count < result.total
            if result.total is not None
            else len(result.matches) == q.count
        )
        if more:
            links.append({"relation": "next", "url": self_link(q.offset + q.count)})
        if q.offset > 0:
            links.append({"relation": "previous", "url": self_link(max(0, q.offset - q.count))})
    bundle["link"] = links
    entries: list[dict[str, Any]] = []
    for stored, mode in [(m, "match") for m in result.matches] + [
        (i, "include") for i in result.included
    ]:
        assert stored.resource is not None
        entries.append(
            {
                "fullUrl": f"{base}/{stored.reference}",
                "resource": _summarise(stored.resource, q),
                "search": {"mode": mode},
            }
        )
    if result.issues:
        entries.append(
            {"resource": operation_outcome(result.issues), "search": {"mode": "outcome"}}
        )
    if entries:
        bundle["entry"] = entries
    return bundle


def history_bundle(items: list[StoredResource], total: int, *, base: str) -> dict[str, Any]:
    """A history Bundle (http.html#history)."""
    entries = []
    for s in items:
        url = s.reference
        entry: dict[str, Any] = {"fullUrl": f"{base}/{url}"}
        if s.resource is not None:
            entry["resource"] = s.resource
        if s.method == "POST":
            request = {"method": "POST", "url": s.resource_type}
            status = "201 Created"
        elif s.method == "DELETE":
            request = {"method": "DELETE", "url": url}
            status = "204 No Content"
        else:
            request = {"method": "PUT", "url": url}
            status = "201 Created" if s.version_id == 1 else "200 OK"
        entry["request"] = request
        entry["response"] = {"status": status, "etag": s.etag, "lastModified": s.last_updated}
        entries.append(entry)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "history", "total": total}
    if entries:
        bundle["entry"] = entries
    return bundle


def _rewrite(value: Any, mapping: dict[str, str]) -> Any:
    """``value`` with every string found in ``mapping`` replaced; copy-on-write: containers
    without a replaced string are returned as they are (most of a resource is untouched)."""
    if isinstance(value, dict):
        out: dict[str, Any] | None = None
        for k, v in value.items():
            if isinstance(v, str | dict | list):
                new = _rewrite(v, mapping)
                if new is not v:
                    if out is None:
                        out = dict(value)
                    out[k] = new
        return value if out is None else out
    if isinstance(value, list):
        items: list[Any] | None = None
        for i, v in enumerate(value):
            if isinstance(v, str | dict | list):
                new = _rewrite(v, mapping)
                if new is not v:
                    if items is None:
                        items = list(value)
                    items[i] = new
        return value if items is None else items
    if isinstance(value, str):
        return mapping.get(value, value)
    return value


def _response(
    status: int, stored: StoredResource | None, *, minimal: bool, resource: Any = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "response": {"status": f"{status} {STATUS_TEXT.get(status, '')}".strip()}
    }
    if stored is not None:
        out["response"]["location"] = f"{stored.reference}/_history/{stored.version_id}"
        out["response"]["etag"] = stored.etag
        out["response"]["lastModified"] = stored.last_updated
        if not minimal and stored.resource is not None:
            out["resource"] = stored.resource
    if resource is not None:
        out["resource"] = resource
    return out


class _Entry:
    def __init__(self, index: int, raw: dict[str, Any]) -> None:
        self.index = index
        self.raw = raw
        request = raw.get("request")
        if not isinstance(request, dict) or not request.get("method") or not request.get("url"):
            raise BadRequestError(f"Bundle entry {index} has no request.method/url")
        self.method = str(request["method"]).upper()
        if self.method not in _ORDER or self.method == "PATCH":
            raise BadRequestError(f"Bundle entry {index}: method {self.method} is not supported")
        self.url = str(request["url"])
        for key in ("ifNoneExist", "ifMatch", "ifNoneMatch", "ifModifiedSince"):
            if key in request and not isinstance(request[key], str):
                raise BadRequestError(f"Bundle entry {index}: request.{key} must be a string")
        self.request = request
        self.resource = raw.get("resource")
        self.full_url = raw.get("fullUrl")
        self.assigned: str | None = None
        #: the resource an ``ifNoneExist`` matched before the Bundle ran
        self.existing: StoredResource | None = None
        #: an earlier entry of the Bundle with the same ``ifNoneExist`` (this one resolves
        #: to what that one creates)
        self.same_as: _Entry | None = None
        #: what this entry wrote or resolved to
        self.stored: StoredResource | None = None
        self.prepared: IndexRows | None = None


def _path(url: str) -> tuple[list[str], list[tuple[str, str]]]:
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    return segments, parse_qsl(parts.query, keep_blank_values=True)


def _run_entry(txn: Transaction, e: _Entry, *, minimal: bool, base: str) -> dict[str, Any]:
    segments, query = _path(e.url)
    if not segments:
        raise BadRequestError(f"Bundle entry {e.index}: invalid url {e.url!r}")
    rtype = segments[0]
    if e.method in ("POST", "PUT"):
        r4.check_writable(rtype)
        if isinstance(e.resource, dict):
            r4.check_writable(str(e.resource.get("resourceType")))
    if e.method == "POST":
        if not isinstance(e.resource, dict):
            raise BadRequestError(f"Bundle entry {e.index}: POST needs a resource")
        if e.existing is not None:
            e.stored = e.existing
            return _response(200, e.existing, minimal=minimal)
        if e.same_as is not None:
            # POSTs run in entry order, so the first entry with these criteria has run
            assert e.same_as.stored is not None
            e.stored = e.same_as.stored
            return _response(200, e.stored, minimal=minimal)
        # ``ifNoneExist`` was resolved by _prepare in this database transaction (its
        # PostgreSQL advisory lock is still held): the search does not run a second time
        result: WriteResult = txn.create(e.resource, assigned_id=e.assigned, prepared=e.prepared)
        e.stored = result.stored
        return _response(201 if result.created else 200, result.stored, minimal=minimal)
    if e.method == "PUT":
        if not isinstance(e.resource, dict):
            raise BadRequestError(f"Bundle entry {e.index}: PUT needs a resource")
        if len(segments) == 1 and query:
            result = txn.conditional_update(rtype, e.url, e.resource)
        elif len(segments) == 2:
            if_match = _etag_version(e.request.get("ifMatch"))
            result = txn.update(rtype, segments[1], e.resource, if_match=if_match)
        else:
            raise BadRequestError(f"Bundle entry {e.index}: invalid PUT url {e.url!r}")
        return _response(201 if result.created else 200, result.stored, minimal=minimal)
    if e.method == "DELETE":
        if len(segments) != 2:
            raise BadRequestError(f"Bundle entry {e.index}: conditional delete is not supported")
        txn.delete(rtype, segments[1])
        return _response(204, None, minimal=True)
    # GET / HEAD
    if len(segments) == 1:
        res = txn.search_params(rtype, query)
        bundle = searchset(res, base=base, self_link=lambda _o: f"{base}/{e.url}")
        return _response(200, None, minimal=True, resource=bundle)
    if len(segments) == 2:
        return _response(200, txn.read(rtype, segments[1]), minimal=False)
    if len(segments) == 4 and segments[2] == "_history":
        stored = txn.vread(rtype, segments[1], _int_version(segments[3]))
        return _response(200, stored, minimal=False)
    raise BadRequestError(f"Bundle entry {e.index}: unsupported url {e.url!r}")


def _int_version(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise BadRequestError(f"Invalid version id {text!r}") from exc


def _etag_version(etag: Any) -> int | None:
    if not etag:
        return None
    text = str(etag).strip()
    if text.startswith("W/"):
        text = text[2:]
    return _int_version(text.strip('"'))


def _prepare(txn: Transaction | None, entries: list[_Entry]) -> None:
    """Assign ids to POST entries, resolve conditional creates, rewrite urn:uuid references.

    Without a transaction (``txn`` None) only Bundles without ``ifNoneExist`` can be prepared.
    """
    mapping: dict[str, str] = {}
    conditional: dict[tuple[str, tuple[tuple[str, str], ...]], _Entry] = {}
    for e in entries:
        if e.method == "POST" and isinstance(e.resource, dict):
            rtype = str(e.resource.get("resourceType"))
            criteria = e.request.get("ifNoneExist")
            if criteria:
                assert txn is not None
                key = (rtype, _criteria_key(str(criteria)))
                first = conditional.get(key)
                if first is not None:  # the same criteria earlier in this Bundle
                    e.existing = first.existing
                    e.same_as = first if first.existing is None else None
                    e.assigned = first.assigned
                else:
                    conditional[key] = e
                    found = txn._conditional_match(rtype, str(criteria))
                    if len(found) > 1:
                        raise BadRequestError(
                            f"Bundle entry {e.index}: ifNoneExist matched several"
                        )
                    if found:
                        e.existing = found[0]
            if e.assigned is None:
                e.assigned = e.existing.id if e.existing else new_id()
            if isinstance(e.full_url, str) and e.full_url.startswith("urn:uuid:"):
                mapping[e.full_url] = f"{rtype}/{e.assigned}"
        elif e.method == "PUT" and isinstance(e.full_url, str) and e.full_url.startswith("urn:"):
            segments, _ = _path(e.url)
            if len(segments) == 2:
                mapping[e.full_url] = "/".join(segments)
    if mapping:
        for e in entries:
            if e.resource is not None:
                e.resource = _rewrite(e.resource, mapping)
            e.url = _rewrite(e.url, mapping)


def _put_targets(entries: list[_Entry]) -> list[tuple[str, str]]:
    """``(type, id)`` of the PUT entries addressed by id (``Type/id``)."""
    out = []
    for e in entries:
        if e.method == "PUT":
            segments, query = _path(e.url)
            if len(segments) == 2 and not query and r4.is_supported(segments[0]):
                out.append((segments[0], segments[1]))
    return out


def _criteria_key(criteria: str) -> tuple[tuple[str, str], ...]:
    """Conditional criteria in a comparable form (parameter order does not matter)."""
    return tuple(sorted(parse_qsl(criteria.split("?", 1)[-1], keep_blank_values=True)))


def _in_entry(exc: FhirError, index: int) -> FhirError:
    """``exc`` with its issues prefixed by the Bundle entry index."""
    exc.issues = tuple(
        Issue(i.severity, i.code, f"Bundle entry {index}: {i.diagnostics}", i.expression)
        for i in exc.issues
    )
    return exc


def process(
    repo: Repository,
    context: RequestContext,
    bundle: dict[str, Any],
    *,
    max_entries: int,
    base: str,
    minimal: bool = False,
) -> dict[str, Any]:
    """Process a batch or transaction Bundle and return the response Bundle."""
    btype = bundle.get("type")
    if btype not in ("batch", "transaction"):
        raise BadRequestError("Only batch and transaction Bundles can be posted to the base URL")
    raw_entries = bundle.get("entry", [])
    if not isinstance(raw_entries, list):
        raise BadRequestError("Bundle.entry must be a list")
    if len(raw_entries) > max_entries:
        raise BadRequestError(
            f"Bundle has {len(raw_entries)} entries; the maximum is {max_entries}"
        )
    for i, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            raise BadRequestError(f"Bundle entry {i} is not a JSON object")
    entries = [_Entry(i, raw) for i, raw in enumerate(raw_entries)]
    responses: list[dict[str, Any] | None] = [None] * len(entries)
    ordered = sorted(entries, key=lambda e: (_ORDER[e.method], e.index))
    if btype == "transaction":
        # CPU-heavy validation and index extraction of plain creates happen before the
        # database transaction starts, so concurrent Bundles overlap on SQLite too.
        early = not any(e.request.get("ifNoneExist") for e in entries)
        if early:
            _prepare(None, entries)
            for e in entries:
                if e.method == "POST" and isinstance(e.resource, dict):
                    try:
                        e.prepared = repo.prepare_create(e.resource, context)
                    except FhirError as exc:
                        raise _in_entry(exc, e.index) from None
        with repo.transaction(context, write=True) as txn:
            if not early:
                _prepare(txn, entries)
            fetched = False
            for e in ordered:
                if e.method == "PUT" and not fetched:
                    # deletes and creates have run: read every PUT target at once
                    txn.prefetch_current(_put_targets(entries))
                    fetched = True
                try:
                    responses[e.index] = _run_entry(txn, e, minimal=minimal, base=base)
                except FhirError as exc:
                    raise _in_entry(exc, e.index) from None
        rtype = "transaction-response"
    else:
        for e in ordered:
            try:
                with repo.transaction(context, write=e.method != "GET") as txn:
                    _prepare(txn, [e])
                    responses[e.index] = _run_entry(txn, e, minimal=minimal, base=base)
            except FhirError as exc:
                responses[e.index] = {
                    "response": {"status": str(exc.status), "outcome": exc.outcome()}
                }
        rtype = "batch-response"
    return {"resourceType": "Bundle", "type": rtype, "entry": responses}
