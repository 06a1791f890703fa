"""Time every page of every role (issue 16 item 9): < 1 s at the demo size, < 2 s at 10,000
children.

    python -m bench.pages --children 600                  # build a district, evaluate, time
    python -m bench.pages --database sqlite:////tmp/d.db  # a district built before
    python -m bench.pages --database … --label "after"    # a second section of the table
    python -m bench.pages --children 10000 --keep /tmp/d10k --build-only  # build once …
    python -m bench.pages --keep /tmp/d10k --label "after"                # … time it often
    python -m bench.pages --keep /tmp/d10k --roles district-official --after-write
                                          # the first view after a write (one new weight)

The district is :mod:`bench.district_db`'s fast load of the seeded demo district, then one
``healthbridge evaluate`` (the alert Flags and review Tasks the worklist and the doctor's list
show). ``healthbridge serve`` runs in a subprocess (development environment with the demo
sign-in on); the benchmark signs in as each role through the demo picker
(``/app/login/demo``) and GETs each page of that role several times in a row, one request at a
time. The pages are listed from the routers of :mod:`healthbridge.web` (every GET route under
``/app`` whose first path segment belongs to a role, and the child's pages for the roles that
open children); path parameters are filled with a child in reach of every role (enrolled at
``org-centre-1``, shared with ``org-mch``, with a guardian), ``wfa`` and ``svg``, and a referral
when one exists; routes with other parameters are listed as not timed.

With ``--after-write`` one Observation (a copy of a stored weight with a new id and a value
0.1 kg higher: a morning check) is written through the store's repository in the benchmark's
process before the warm-up and before each timed request, so every request timed is the first
one after a write (what the district's caches must bring up to date, docs/reports.md §2c).

Results: a dated section appended to ``bench/results/pages.md`` (role, page, median, p95,
response size, status) and one row of its History table (:func:`figures`, through
``bench/_results.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import pkgutil
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._common import percentile, server
from bench._results import RESULTS, record
from bench.district_db import database

RESULT_FILE = RESULTS / "pages.md"
#: first path segment under /app → roles whose pages they are
SECTIONS: dict[str, tuple[str, ...]] = {
    "doctor": ("paediatrician",),
    "centre": ("health-manager",),
    "parent": ("parent",),
    "district": ("district-official",),
    "child": ("parent", "health-manager", "paediatrician"),
    "chart": ("parent", "health-manager", "paediatrician"),
}
#: GET routes that are not pages to time (JSON feeds polled by pages are timed; these are not
#: a role's pages: sign-in flows, invitations, SMART, static files)
SKIP = re.compile(r"^/app/(login|logout|invite|oidc|smart|static|admin|rights)")


@dataclass(frozen=True)
class Timing:
    role: str
    path: str
    median: float
    p95: float
    size: int
    status: int


def page_routes() -> list[str]:
    """Every GET path of the pages (``/app`` + the routers' paths)."""
    import healthbridge.web as web

    paths: set[str] = set()
    for info in pkgutil.iter_modules(web.__path__):
        module = importlib.import_module(f"healthbridge.web.{info.name}")
        router = getattr(module, "router", None)
        for route in getattr(router, "routes", ()):
            if "GET" in (getattr(route, "methods", None) or ()):
                paths.add("/app" + str(route.path))
    return sorted(p for p in paths if not SKIP.match(p) and p != "/app/")


def _people(url: str) -> dict[str, Any]:
    """A child in every role's reach and the people who open it (read from the database)."""
    from healthbridge.fhir.facts import current_enrolment
    from healthbridge.store.db import make_engine
    from healthbridge.store.hooks import SYSTEM_CONTEXT
    from healthbridge.store.repository import Repository

    repo = Repository(make_engine(url))
    with repo.transaction(SYSTEM_CONTEXT, write=False) as txn:
        consents = txn.search_params(
            "Consent",
            [("organization", "Organization/org-mch"), ("status", "active"), ("_count", "200")],
        ).matches
        for c in consents:
            pid = str((c.resource or {})["patient"]["reference"]).split("/")[-1]
            patient = txn.read("Patient", pid).resource or {}
            enrolled = current_enrolment(patient)
            if enrolled is None or enrolled.centre_id != "org-centre-1":
                continue
            guardians = txn.search_params("RelatedPerson", [("patient", f"Patient/{pid}")])
            if not guardians.matches:
                continue
            referral = txn.search_params(
                "ServiceRequest", [("performer", "Organization/org-mch"), ("_count", "1")]
            ).matches
            return {
                "patient_id": pid,
                "parent": f"RelatedPerson/{guardians.matches[0].id}",
                "request_id": referral[0].id if referral else None,
            }
    raise SystemExit("no child enrolled at org-centre-1, shared with org-mch, with a guardian")


def _sign_in(client: httpx.Client, person: str) -> None:
    client.cookies.clear()
    login = client.get("/app/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token is not None
    r = client.post(
        "/app/login/demo", data={"person": person, "csrf_token": token.group(1)},
        follow_redirects=False,
    )  # fmt: skip
    if r.status_code != 303:
        raise SystemExit(f"demo sign-in as {person} failed: {r.status_code}")


def _fill(path: str, values: dict[str, Any]) -> str | None:
    out = path
    for name in re.findall(r"{(\w+)}", path):
        value = values.get(name)
        if value is None:
            return None
        out = out.replace("{" + name + "}", str(value))
    return out


class Writer:
    """One new Observation per call, written through the repository (``--after-write``)."""

    def __init__(self, url: str) -> None:
        from healthbridge.store.db import make_engine
        from healthbridge.store.hooks import RequestContext
        from healthbridge.store.repository import Repository

        self.repo = Repository(make_engine(url))
        self.context = RequestContext(principal="bench", roles=frozenset({"system"}))
        self.serial = 0

    def __call__(self) -> None:
        import json

        from sqlalchemy import text

        with self.repo.engine.connect() as conn:
            content = conn.execute(
                text(
                    "SELECT content FROM resource WHERE res_type = 'Observation'"
                    " AND res_id LIKE '%-wt' AND NOT deleted ORDER BY res_id LIMIT 1"
                )
            ).scalar_one()
        obs = {k: v for k, v in json.loads(content).items() if k != "meta"}
        self.serial += 1
        obs["id"] = f"bench-write-{os.getpid()}-{time.time_ns()}-{self.serial}"
        obs["valueQuantity"]["value"] = round(obs["valueQuantity"]["value"] + 0.1, 2)
        with self.repo.transaction(self.context) as txn:
            txn.update("Observation", obs["id"], obs)


def measure(
    base: str,
    people: dict[str, Any],
    runs: int,
    roles: tuple[str, ...] = (),
    timeout: float = 120,
    before: Any = None,
) -> tuple[list[Timing], list[str]]:
    """Sign in as each role and time each of its pages ``runs`` times (after one warm-up); a
    page slower than ``timeout`` seconds is recorded as such (status 0) and not repeated.
    ``before``: called before the warm-up and before each timed request (not timed)."""
    before = before or (lambda: None)
    signin = {
        "paediatrician": "PractitionerRole/pr-org-mch-1-role",
        "health-manager": "PractitionerRole/pr-org-centre-1-1-role",
        "parent": people["parent"],
        "district-official": "demo-district-official",
    }
    values = {**people, "indicator": "wfa", "fmt": "svg"}
    timings: list[Timing] = []
    skipped: list[str] = []
    routes = page_routes()
    for role, person in signin.items():
        if roles and role not in roles:
            continue
        with httpx.Client(base_url=base, timeout=timeout) as client:
            _sign_in(client, person)
            for path in routes:
                section = path.split("/")[2]
                if role not in SECTIONS.get(section, ()):
                    continue
                url = _fill(path, values)
                if url is None:
                    skipped.append(f"{role} {path}")
                    continue
                try:
                    before()
                    client.get(url)  # warm-up (caches, first template compile)
                except httpx.TimeoutException:
                    timings.append(Timing(role, path, timeout, timeout, 0, 0))
                    print(f"{role:18} {path:45} > {timeout:.0f} s (timed out)", flush=True)
                    continue
                seconds: list[float] = []
                size = status = 0
                for _ in range(runs):
                    before()
                    start = time.perf_counter()
                    r = client.get(url)
                    seconds.append(time.perf_counter() - start)
                    size, status = len(r.content), r.status_code
                timings.append(
                    Timing(role, path, statistics.median(seconds), percentile(seconds, 95),
                           size, status)
                )  # fmt: skip
                print(f"{role:18} {path:45} {timings[-1].median:7.3f} s  {status}", flush=True)
    return timings, skipped


def evaluate(url: str, data_dir: Path) -> None:
    """One clinical evaluation of the district (writes the alert Flags and review Tasks)."""
    env = {**os.environ, "HEALTHBRIDGE_DATABASE_URL": url, "HEALTHBRIDGE_DATA_DIR": str(data_dir)}
    subprocess.run(
        [sys.executable, "-m", "healthbridge.cli", "evaluate", "--workers", "1"], env=env,
        check=True,
    )  # fmt: skip


def access_rows(url: str) -> None:
    """Fill the access tables (compartment, ``patient_link``) of a fast-loaded district: the
    fast load writes resources and search indexes only, and without these rows no child is
    in anyone's reach (every child page would be "not found")."""
    from sqlalchemy import delete, func, select

    from healthbridge.store.access_tables import COMPARTMENT, LINK, backfill
    from healthbridge.store.db import make_engine

    engine = make_engine(url)
    with engine.begin() as conn:
        if conn.execute(select(func.count()).select_from(LINK)).scalar_one():
            return
        conn.execute(delete(COMPARTMENT))  # rebuilt for every resource, alerts included
        backfill(conn)
    engine.dispose()


def _counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from healthbridge.store.db import make_engine
    from healthbridge.store.repository import RES

    with make_engine(url).connect() as conn:
        rows = conn.execute(select(RES.c.res_type, func.count()).group_by(RES.c.res_type)).all()
    return {str(t): int(n) for t, n in rows}


def write(timings: list[Timing], skipped: list[str], label: str, counts: dict[str, int]) -> None:
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## {when}: {label}\n",
        f"Database: {counts.get('Patient', 0):,} children, "
        f"{sum(counts.values()):,} resources ({counts.get('Flag', 0):,} Flags).\n",
        "| role | page | median | p95 | size | status |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for t in timings:
        if t.status == 0:
            lines.append(f"| {t.role} | `{t.path}` | > {t.median:.0f} s (timed out) | | | |")
            continue
        lines.append(
            f"| {t.role} | `{t.path}` | {t.median * 1000:,.0f} ms | {t.p95 * 1000:,.0f} ms "
            f"| {t.size / 1024:,.1f} KiB | {t.status} |"
        )
    if skipped:
        lines.append("\nNot timed (no value for a path parameter): " + ", ".join(skipped))
    RESULT_FILE.parent.mkdir(parents=True, exist_ok=True)
    if not RESULT_FILE.exists():
        RESULT_FILE.write_text(
            "# Page timings per role (issue 16 item 9)\n\n"
            "Aim: every page < 1 s at the demo size, < 2 s at 10,000 children. "
            "Produced by `python -m bench.pages` (see its docstring).\n",
            encoding="utf-8",
        )
    with RESULT_FILE.open("a", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def figures(
    timings: list[Timing], children: int, roles: str, after_write: bool = False
) -> dict[str, Any]:
    """The run's history row (``bench/_results.py`` ``pages``): the median of each page of
    the role that mainly uses it (a child page is a parent's), the slowest page, and how many
    are over the aim (1 s up to 1,000 children, else 2 s)."""
    owner = {"/app/doctor": "paediatrician", "/app/centre/admission": "health-manager",
             "/app/centre": "health-manager"}  # fmt: skip
    medians = {
        t.path: round(t.median * 1000)
        for t in timings
        if t.status == 200 and owner.get(t.path, _default_owner(t.path)) == t.role
    }
    ok = [t for t in timings if t.status == 200]
    slowest = max(ok, key=lambda t: t.median, default=None)
    aim = 1.0 if children <= 1000 else 2.0
    return {
        "children": children,
        "roles": roles or "all",
        "after_write": after_write,
        "median_ms": medians,
        "slowest": {
            "page": f"{slowest.role} {slowest.path}" if slowest else None,
            "median_ms": round(slowest.median * 1000) if slowest else None,
        },
        "over_aim": sum(1 for t in timings if t.median > aim),
        "pages": len(timings),
        "load_average_before": LOAD_BEFORE,
        "load_average_after": os.getloadavg(),
    }


def _default_owner(path: str) -> str:
    """The role a page belongs to when :func:`figures` has no entry for it."""
    return "district-official" if path.startswith("/app/district") else "parent"


#: the load average when the run started (before the server and the timings)
LOAD_BEFORE = os.getloadavg()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="an existing district database (SQLAlchemy URL)")
    parser.add_argument("--children", type=int, default=600, help="build a district this big")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--label", default="")
    parser.add_argument("--no-evaluate", action="store_true", help="the database has alerts")
    parser.add_argument("--roles", default="", help="comma-separated roles (default: all)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request")
    parser.add_argument(
        "--keep", type=Path,
        help="build (and evaluate) the district in DIR/district.sqlite3, or reuse it when present",
    )  # fmt: skip
    parser.add_argument("--build-only", action="store_true", help="stop after building")
    parser.add_argument(
        "--after-write", action="store_true",
        help="write one Observation before each request: time the first view after a write",
    )  # fmt: skip
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    url = args.database
    built = False
    if url is None:
        target = (args.keep or data_dir) / "district.sqlite3"
        url = f"sqlite:///{target}"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            repo, _counts_loaded, seconds = database(url, args.children)
            repo.engine.dispose()
            print(f"loaded {args.children:,} children in {seconds:.0f} s", flush=True)
            built = True
    if built and not args.no_evaluate:
        evaluate(url, data_dir)
    access_rows(url)
    if args.build_only:
        print(f"built {url}")
        return 0
    counts = _counts(url)
    people = _people(url)
    os.environ.update({"HEALTHBRIDGE_ENVIRONMENT": "development", "HEALTHBRIDGE_DEMO_LOGIN": "1"})
    with server(url, data_dir) as fhir_base:
        roles = tuple(r for r in args.roles.split(",") if r)
        before = Writer(url) if args.after_write else None
        timings, skipped = measure(
            fhir_base.removesuffix("/fhir"), people, args.runs, roles, args.timeout, before
        )
    label = args.label or f"{counts.get('Patient', 0):,} children"
    label += ", first view after a write" if args.after_write else ""
    write(timings, skipped, label, counts)
    record("pages", label, figures(timings, counts.get("Patient", 0), args.roles, args.after_write))
    slow = [t for t in timings if t.median > (1.0 if counts.get("Patient", 0) <= 1000 else 2.0)]
    print(f"{len(timings)} pages timed, {len(slow)} over the aim; wrote {RESULT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
