"""The district cache: the frames of the last read, refreshed by what was written since.

Reading and scoring a whole district is the cost of every report. A :class:`DistrictCache`
keeps the frames of its last read with a watermark of what was read
(:class:`healthbridge.district.watermark.Mark`). While
:func:`~healthbridge.district.watermark.data_version` is unchanged (one count and a few index
lookups) they are handed out as they are; after writes only the resources written since are
re-read and only the children they touch re-paired and re-scored
(:func:`healthbridge.district.refresh.refresh`) — unless the watermark cannot be trusted or too
much changed, when everything is read again. The frames are identical to a full read's either
way (tests/healthbridge/district/test_gather_refresh.py). Callers get copy-on-write copies.

The server makes one cache in its lifespan (``app.state.district_cache``) and closes it at
shutdown; a command that reports makes its own (or reads once with
:func:`healthbridge.district.gather.gather`). With a ``snapshot_dir`` (the server's data
directory) the frames are kept on disk too (:mod:`healthbridge.district.snapshot`; written by
one background thread after a full read, and after a refresh at most every
:data:`SNAPSHOT_INTERVAL`): the first report after a restart loads them and refreshes what was
written since, under the same watermark checks as the in-memory frames. :meth:`close` waits
for a snapshot being written; nothing is written after it.

Several server processes on one database (docs/deployment.md) each keep their own cache and
snapshot (the snapshot directory is per host); the watermark is read from the database, so a
write by any process is seen by every process's next report.

The coverage figures' other inputs (managed cases, frail alerts, screening results) are kept
and refreshed the same way by :meth:`DistrictCache.coverage_inputs`
(:mod:`healthbridge.district.coverage_inputs`; in memory only).

The heavy report stack (pandas, pyarrow, the growth tables) is imported on the first read, not
when the app is built.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

_T = TypeVar("_T")

if TYPE_CHECKING:
    import pandas as pd

    from healthbridge.district.coverage_inputs import InputsState
    from healthbridge.district.frames import DistrictFrames
    from healthbridge.district.watermark import State
    from healthbridge.store.repository import Repository

#: The snapshot directory under the server's data directory (``Settings.data_dir``).
SNAPSHOT_SUBDIR: Final = "district-cache"
#: After an incremental refresh, the snapshot is rewritten when it is older than this.
SNAPSHOT_INTERVAL: dt.timedelta = dt.timedelta(minutes=10)
#: The most values :meth:`DistrictCache.kept` keeps (the page's tables and the area tables of
#: each area and parameters an official looks at: a few small frames).
KEPT_ENTRIES: Final = 32


@dataclass(frozen=True)
class GatherInfo:
    """How the last :meth:`DistrictCache.gather` got its frames (for benchmarks and tests):
    ``cached`` (data unchanged), ``incremental`` (``changed`` resources per type re-read),
    ``snapshot`` (loaded from the snapshot, then ``changed`` resources re-read) or ``full``
    (with the ``reason``; ``rebuilt`` when the rule-input table had to be rebuilt first)."""

    mode: str
    changed: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    rebuilt: bool = False


class DistrictCache:
    """The last gathered district of one database, for the reports of one process."""

    def __init__(self, snapshot_dir: Path | None = None) -> None:
        self.snapshot_dir = snapshot_dir
        #: How the last :meth:`gather` got its frames.
        self.last = GatherInfo("none")
        self._key: str | None = None
        self._state: State | None = None
        self._lock = threading.Lock()
        #: One refresh at a time: a second report request waits for the first one's frames.
        self._refresh_lock = threading.Lock()
        self._saver: threading.Thread | None = None
        self._saved_at: float | None = None
        self._closed = False
        #: values computed from the whole database, with the data version they were read at
        #: (the least recently used goes first beyond :data:`KEPT_ENTRIES`)
        self._kept: OrderedDict[tuple[str, str], tuple[object, object]] = OrderedDict()
        #: the coverage inputs of one database (:mod:`healthbridge.district.coverage_inputs`)
        self._inputs: tuple[str, InputsState] | None = None
        self._inputs_lock = threading.Lock()
        #: How the last :meth:`coverage_inputs` got its frames (as :attr:`last`).
        self.last_inputs = GatherInfo("none")

    def gather(self, repo: Repository) -> DistrictFrames:
        """The district's frames as a full read would give them now (see the module
        docstring)."""
        from healthbridge.district import gather as full
        from healthbridge.district import snapshot
        from healthbridge.district.frames import shallow
        from healthbridge.district.refresh import refresh
        from healthbridge.district.watermark import changes, data_version

        key = repo.engine.url.render_as_string(hide_password=True)
        with repo.engine.connect() as conn:
            version = data_version(conn)
        with self._lock:
            state = self._state if self._key == key else None
        if state is not None and state.version == version:
            self.last = GatherInfo("cached")
            return shallow(state.frames)
        with self._refresh_lock:
            with self._lock:
                state = self._state if self._key == key else None
            loaded = False
            if state is None and self.snapshot_dir is not None:
                state = snapshot.load(self.snapshot_dir, key)
                loaded = state is not None
            rebuilt = full.ensure_rule_inputs(repo.engine)
            with repo.engine.connect() as raw:
                conn = full.consistent(raw)
                started = dt.datetime.now(dt.UTC)  # before the view's first statement
                version = data_version(conn)
                if state is not None and state.version == version:
                    info = GatherInfo("snapshot" if loaded else "cached")
                else:
                    changed: dict[str, list[str]] = {}
                    reason = "first read"
                    if state is not None:
                        changed, reason = changes(conn, state)
                        reason = f"snapshot: {reason}" if reason and loaded else reason
                    if reason or state is None:
                        state = full.read_state(conn, version, started)
                        info = GatherInfo("full", reason=reason, rebuilt=rebuilt)
                    else:
                        state = refresh(conn, state, version, changed, started)
                        counts = {k: len(v) for k, v in changed.items()}
                        info = GatherInfo("snapshot" if loaded else "incremental", counts)
            with self._lock:  # one district at a time: the frames are large
                self._key, self._state = key, state
            self.last = info
            if info.mode != "cached":
                self._save_if_due(key, state, full=info.mode == "full", changed=bool(info.changed))
            return shallow(state.frames)

    def coverage_inputs(self, repo: Repository) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """The managed cases, frail identifications and screening results as a full read
        (:func:`~healthbridge.district.cases.case_frames`,
        :func:`~healthbridge.district.screening.screening_frames`) would give them now: kept,
        and after writes brought up to date by re-reading only the resources written since
        (:mod:`healthbridge.district.coverage_inputs`, under the watermark checks of
        :meth:`gather`). New frames: the caller may change them."""
        from healthbridge.district import gather as full
        from healthbridge.district.coverage_inputs import (
            INPUT_TYPES,
            read_inputs,
            refresh_inputs,
        )
        from healthbridge.district.watermark import changes, data_version

        key = repo.engine.url.render_as_string(hide_password=True)
        with self._inputs_lock:  # one read at a time: a second request waits for the first
            state = self._inputs[1] if self._inputs and self._inputs[0] == key else None
            with repo.engine.connect() as raw:
                conn = full.consistent(raw)
                started = dt.datetime.now(dt.UTC)  # before the view's first statement
                version = data_version(conn)
                if state is not None and state.version == version:
                    info = GatherInfo("cached")
                else:
                    changed: dict[str, list[str]] = {}
                    reason = "first read"
                    if state is not None:
                        changed, reason = changes(conn, state, INPUT_TYPES)
                    if reason or state is None:
                        state = read_inputs(conn, version, started)
                        info = GatherInfo("full", reason=reason)
                    else:
                        state = refresh_inputs(conn, state, version, changed, started)
                        info = GatherInfo("incremental", {k: len(v) for k, v in changed.items()})
            self._inputs = (key, state)
            self.last_inputs = info
            return state.frames()

    def version(self, repo: Repository) -> tuple[object, ...]:
        """The data version (:func:`~healthbridge.district.watermark.data_version`) now: read
        once for several :meth:`kept` values of one request."""
        from healthbridge.district.watermark import data_version

        with repo.engine.connect() as conn:
            return data_version(conn)

    def kept(
        self,
        repo: Repository,
        name: str,
        compute: Callable[[], _T],
        version: tuple[object, ...] | None = None,
    ) -> _T:
        """``compute()`` (a value read from the whole database, e.g. the screening results of
        the coverage figures), kept until the data changes: the same fingerprint as the
        frames (:func:`~healthbridge.district.watermark.data_version`), read BEFORE computing,
        so a write committed meanwhile makes the next call compute again — never a stale
        value. ``name`` must say everything the value depends on besides the data (e.g. the
        report's parameters); at most :data:`KEPT_ENTRIES` values are kept, the least
        recently used dropped first. ``version``: one :meth:`version` read before this call
        (by default read here). The caller must not change what it gets (hand out copies)."""
        key = (repo.engine.url.render_as_string(hide_password=True), name)
        if version is None:
            version = self.version(repo)
        with self._lock:
            hit = self._kept.get(key)
            if hit is not None and hit[0] == version:
                self._kept.move_to_end(key)
                return hit[1]  # type: ignore[return-value]
        value = compute()
        with self._lock:
            self._kept[key] = (version, value)
            self._kept.move_to_end(key)
            while len(self._kept) > KEPT_ENTRIES:
                self._kept.popitem(last=False)
        return value

    def _save_if_due(self, key: str, state: State, *, full: bool, changed: bool) -> None:
        """Write the snapshot in the background (the report does not wait; the state is
        immutable) after a full read, or after changes when the last one is old; skipped
        while one is being written (the next one due writes) and after :meth:`close`."""
        from healthbridge.district import snapshot

        if self.snapshot_dir is None or self._closed:
            return
        if self._saver is not None and self._saver.is_alive():
            return
        last = self._saved_at
        due = last is None or time.monotonic() - last >= SNAPSHOT_INTERVAL.total_seconds()
        if not (full or (due and changed)):
            return
        self._saved_at = time.monotonic()
        self._saver = threading.Thread(
            target=snapshot.save_quietly,
            args=(self.snapshot_dir, key, state),
            name="district-snapshot",
        )
        self._saver.start()

    def wait(self) -> None:
        """Wait until the snapshot being written (if any) is on disk."""
        saver = self._saver
        if saver is not None:
            saver.join()

    def close(self) -> None:
        """Stop writing snapshots and wait for the one being written (app shutdown)."""
        with self._refresh_lock:
            self._closed = True
        self.wait()
