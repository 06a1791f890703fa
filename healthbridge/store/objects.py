"""Object storage for files the server hands out later (Bulk Data export files).

Two stores behind one small interface (:class:`ObjectStore`):

* :class:`LocalStore` — a directory (the embedded default: ``<data_dir>/bulk-export``). With
  several servers on several hosts it must be a directory they all mount (NFS); otherwise use
* :class:`S3Store` — any S3-compatible service (AWS S3, MinIO, Ceph RGW, Alibaba OSS and
  Tencent COS in S3 mode) through ``boto3``, the AWS SDK. Objects are written whole with
  ``upload_file`` (multipart for large files) and read back as a stream.

Keys are ``/``-separated relative names (``<job id>/<Type>.ndjson``); :func:`open_store`
picks the store from the settings (``export_store``: empty for the local directory or
``s3://bucket/prefix``). boto3 is imported only when an S3 store is made.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from healthbridge.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Bytes per chunk when an object is streamed out.
CHUNK: Final = 256 * 1024
#: The local store's directory under ``Settings.data_dir``.
LOCAL_SUBDIR: Final = "bulk-export"


class ObjectStore(Protocol):
    """Where finished files are kept: put a local file under a key, stream it back, delete
    every object under a prefix."""

    def put_file(self, key: str, path: Path) -> None:
        """Store the file at ``path`` under ``key`` (replacing an object of that key)."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    def stream(self, key: str) -> Iterator[bytes]:
        """The object's bytes in chunks (FileNotFoundError when there is none)."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix`` + ``/``; how many."""


def _check(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not an object key: {key!r}")
    return key


class LocalStore:
    """Objects as files under ``root`` (written to a temporary name, then renamed)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check(key).split("/"))

    def put_file(self, key: str, path: Path) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stream(self, key: str) -> Iterator[bytes]:
        with self._path(key).open("rb") as source:
            while chunk := source.read(CHUNK):
                yield chunk

    def delete_prefix(self, prefix: str) -> int:
        folder = self._path(prefix)
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count


class S3Store:
    """Objects in ``bucket`` under ``prefix`` of an S3-compatible service."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{_check(key)}" if self.prefix else _check(key)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def stream(self, key: str) -> Iterator[bytes]:
        from botocore.exceptions import ClientError

        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(key) from exc
            raise
        body = got["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def delete_prefix(self, prefix: str) -> int:
        listed = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix) + "/"
        )
        removed = 0
        for page in listed:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:  # at most 1,000 per page, the limit of one DeleteObjects request
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys})  # type: ignore[typeddict-item]
                removed += len(keys)
        return removed


def s3_client(settings: Settings) -> S3Client:
    """A boto3 S3 client for the settings' endpoint, region and keys (unset keys: boto3's
    own chain — ``AWS_ACCESS_KEY_ID`` …, a profile, an instance role)."""
    import boto3
    from botocore.config import Config

    options: dict[str, Any] = {
        "config": Config(
            s3={"addressing_style": settings.s3_addressing_style},
            retries={"max_attempts": 5, "mode": "standard"},
        )
    }
    if settings.s3_endpoint_url:
        options["endpoint_url"] = settings.s3_endpoint_url
    if settings.s3_region:
        options["region_name"] = settings.s3_region
    if settings.s3_access_key_id:
        options["aws_access_key_id"] = settings.s3_access_key_id
        options["aws_secret_access_key"] = settings.s3_secret_access_key
    client: S3Client = boto3.session.Session().client("s3", **options)
    return client


def open_store(settings: Settings) -> ObjectStore:
    """The export store the settings name (see the module docstring)."""
    url = settings.export_store.strip()
    if not url:
        return LocalStore(settings.data_dir / LOCAL_SUBDIR)
    if url.startswith("s3://"):
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"HEALTHBRIDGE_EXPORT_STORE {url!r} names no bucket")
        return S3Store(s3_client(settings), bucket, prefix)
    if url.startswith("file://"):
        return LocalStore(Path(url.removeprefix("file://")))
    raise ValueError(f"HEALTHBRIDGE_EXPORT_STORE {url!r}: use s3://bucket/prefix or file:///dir")
