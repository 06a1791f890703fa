"""The cached district kept on disk as Parquet: a restarted server starts from it.

A snapshot is a small JSON manifest (``district-frames-<key>.json``) naming one Parquet file
per frame (``district-frames-<key>-<generation>-<frame>.parquet``). :func:`save` writes the
frames of a new generation, then replaces the manifest atomically (a temporary file renamed
over it), then removes the files of older generations: a reader sees the old snapshot or the
new one, never a half-written one. Parquet (pyarrow) compresses the many repeated ids, codes
and dates of a district by dictionary encoding, so nothing is packed by hand, and loading it
runs no code from the file (the pickle it replaces did).

The manifest's header says what the frames were read by — this format, the database, the
rule-input extractor and the library versions; a snapshot whose header does not match, or
that cannot be read whole, is ignored (:func:`load` returns None) and the district is read
again. A snapshot is only a starting point: :class:`healthbridge.district.cache.DistrictCache`
then checks its watermark against the database exactly as it checks the in-memory frames.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import uuid
from dataclasses import fields
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow

from healthbridge.district.frames import DistrictFrames
from healthbridge.district.watermark import Mark, State
from healthbridge.store import rule_inputs as ri

_LOG = logging.getLogger(__name__)
#: Bump when :class:`~healthbridge.district.watermark.State`, the frames or this layout change
#: shape or meaning: older snapshots are ignored. 3: Parquet (1–2 were pickles).
SNAPSHOT_FORMAT: Final = 3
#: The frames of :class:`State` besides those of :class:`DistrictFrames`.
_STATE_FRAMES: Final = ("observations", "checkups", "vaccinations")


def manifest_path(directory: Path, key: str) -> Path:
    """The manifest of the snapshot of the database ``key`` (its URL, password hidden)."""
    return directory / f"{_stem(key)}.json"


def _stem(key: str) -> str:
    return f"district-frames-{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def header(key: str) -> dict[str, object]:
    """What a snapshot must match to be used."""
    return {
        "format": SNAPSHOT_FORMAT,
        "database": key,
        "extractor": ri.EXTRACTOR_VERSION,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "pyarrow": pyarrow.__version__,
    }


def _named_frames(state: State) -> dict[str, pd.DataFrame]:
    out = {name: getattr(state, name) for name in _STATE_FRAMES}
    out.update({f"frames.{f.name}": getattr(state.frames, f.name) for f in fields(DistrictFrames)})
    windows = [
        (rtype, rid, version, stamp)
        for rtype, seen in state.marks.items()
        for rid, (version, stamp) in seen.window.items()
    ]
    out["windows"] = pd.DataFrame(
        {
            "rtype": pd.Series([w[0] for w in windows], dtype=object),
            "res_id": pd.Series([w[1] for w in windows], dtype=object),
            "version": pd.Series([w[2] for w in windows], dtype="int64"),
            "stamp": pd.Series([w[3] for w in windows], dtype=object),
        }
    )
    return out


def save(directory: Path, key: str, state: State) -> None:
    """Write ``state`` as the snapshot of ``key`` (see the module docstring for the order)."""
    directory.mkdir(parents=True, exist_ok=True)
    stem, generation = _stem(key), uuid.uuid4().hex[:12]
    files: dict[str, dict[str, Any]] = {}
    for name, frame in _named_frames(state).items():
        file = f"{stem}-{generation}-{name}.parquet"
        frame.to_parquet(directory / file, compression="zstd")
        files[name] = {"file": file, "dtypes": {str(c): str(d) for c, d in frame.dtypes.items()}}
    manifest = {
        "header": header(key),
        "version": list(state.version),
        "revision": state.revision,
        "marks": {
            rtype: {"versions": m.versions, "since": m.since, "window_versions": m.window_versions}
            for rtype, m in state.marks.items()
        },
        "frames": files,
    }
    path = manifest_path(directory, key)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(manifest, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        for entry in files.values():
            with contextlib.suppress(OSError):
                (directory / entry["file"]).unlink()
        raise
    kept = {entry["file"] for entry in files.values()}
    for old in directory.glob(f"{stem}-*.parquet"):  # older generations
        if old.name not in kept:
            with contextlib.suppress(OSError):
                old.unlink()
    with contextlib.suppress(OSError):
        (directory / f"{stem}.pickle").unlink()  # the format before Parquet


def save_quietly(directory: Path, key: str, state: State) -> None:
    """:func:`save`, a failure logged: the snapshot only saves time, the report is served."""
    try:
        save(directory, key, state)
    except (OSError, ValueError, pyarrow.ArrowException) as exc:
        _LOG.warning("district snapshot not written to %s: %s", directory, exc)


def _restore(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """``frame`` with the dtypes it was written with (Parquet gives text back as pandas'
    string dtype; the frames keep object columns with None for missing)."""
    if [str(c) for c in frame.columns] != list(dtypes):
        raise ValueError("columns differ from the manifest")
    for column, dtype in zip(frame.columns, dtypes.values(), strict=True):
        if str(frame[column].dtype) == dtype:
            continue
        if dtype == "object":
            values = frame[column].astype(object)
            frame[column] = values.where(values.notna(), None)
        else:
            frame[column] = frame[column].astype(pd.api.types.pandas_dtype(dtype))
    return frame


def load(directory: Path, key: str) -> State | None:
    """The snapshot of ``key`` in ``directory`` if it was written for this database by this
    format, extractor and library versions and reads whole; None otherwise (missing,
    corrupt, foreign or another version's)."""
    try:
        manifest = json.loads(manifest_path(directory, key).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or manifest.get("header") != header(key):
            return None
        frames = {
            name: _restore(pd.read_parquet(directory / entry["file"]), entry["dtypes"])
            for name, entry in manifest["frames"].items()
        }
        windows: dict[str, dict[str, tuple[int, str]]] = {}
        w = frames.pop("windows")
        for rtype, rid, version, stamp in zip(
            w["rtype"], w["res_id"], w["version"], w["stamp"], strict=True
        ):
            windows.setdefault(str(rtype), {})[str(rid)] = (int(version), str(stamp))
        marks = {
            rtype: Mark(
                versions=int(m["versions"]),
                since=str(m["since"]),
                window=windows.get(rtype, {}),
                window_versions=int(m["window_versions"]),
            )
            for rtype, m in manifest["marks"].items()
        }
        district = DistrictFrames(
            **{f.name: frames[f"frames.{f.name}"] for f in fields(DistrictFrames)}
        )
        return State(
            version=tuple(manifest["version"]),
            revision=manifest["revision"],
            marks=marks,
            frames=district,
            **{name: frames[name] for name in _STATE_FRAMES},
        )
    except (OSError, ValueError, KeyError, TypeError, pyarrow.ArrowException) as exc:
        _LOG.info("district snapshot in %s not used: %s", directory, exc)
        return None
