"""Engines (:mod:`healthbridge.store.db`): a forked child never uses a pooled connection it
inherited from its parent — it opens its own (both backends)."""

from __future__ import annotations

import os

from healthbridge.store import db


def test_a_forked_child_opens_its_own_connection(database_url: str) -> None:
    engine = db.make_engine(database_url)
    with engine.connect() as conn:  # now pooled in this process
        parent = id(conn.connection.driver_connection)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        answer = b"0"
        try:
            with engine.connect() as conn:
                record = conn.connection._connection_record
                own = id(conn.connection.driver_connection) != parent
                mine = record is not None and record.info.get("pid") == os.getpid()
                conn.exec_driver_sql("SELECT 1").scalar()
                answer = b"1" if own and mine else b"2"
        finally:
            os.write(write, answer)
            os._exit(0)
    os.close(write)
    got = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert got == b"1"
    with engine.connect() as conn:  # the parent's pooled connection still works
        assert id(conn.connection.driver_connection) == parent
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    engine.dispose()
