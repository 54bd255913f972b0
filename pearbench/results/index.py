"""The SQLite index of a results directory (``<results_dir>/index.sqlite``): a cache of the records' headline
fields, one row per record, rebuildable from the record files at any time
(:func:`pearbench.results.records.rebuild_index`). The record files are the truth; this module never reads them.

WAL mode on a local filesystem, a rollback journal on a network one (:mod:`pearbench.results.netfs`); every write
is one transaction, retried while SQLite reports the database locked.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pearbench.results.netfs import leave_wal, sqlite_journal_mode

#: the records' folder in a results directory (the index stores each record's path relative to the directory)
RECORDS_DIR = "records"
INDEX_FILE = "index.sqlite"
INDEX_VERSION = 1

_COLUMNS = (
    "run_id",
    "suite",
    "method",
    "method_label",
    "seed",
    "profile",
    "path",
    "checksum",
    "sft_pass_at_1",
    "rl_pass_at_1",
    "sft_pass_at_8",
    "rl_pass_at_8",
)
_CREATE = """
CREATE TABLE IF NOT EXISTS records (
    run_id TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    method TEXT NOT NULL,
    method_label TEXT NOT NULL,
    seed INTEGER NOT NULL,
    profile TEXT NOT NULL,
    path TEXT NOT NULL,
    checksum TEXT NOT NULL,
    sft_pass_at_1 REAL,
    rl_pass_at_1 REAL,
    sft_pass_at_8 REAL,
    rl_pass_at_8 REAL
)
"""
_UPSERT = (
    f"INSERT INTO records ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' for _ in _COLUMNS)}) "
    f"ON CONFLICT(run_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in _COLUMNS[1:])}"
)
BUSY_TIMEOUT_S = 60.0


def index_path(results_dir: str | Path) -> Path:
    return Path(results_dir) / INDEX_FILE


def _retry_locked(action: Callable[[], Any], timeout_s: float = BUSY_TIMEOUT_S) -> Any:
    """Run ``action``, retrying while SQLite says the database is locked (e.g. a journal-mode switch in progress)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    while True:
        try:
            return action()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


def _connect(results_dir: str | Path) -> sqlite3.Connection:
    """Open the index with a busy timeout, in WAL mode on a local filesystem and with a rollback journal on a network
    one (:mod:`pearbench.results.netfs`); create its table if needed. Autocommit; callers BEGIN."""
    path = index_path(results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        if sqlite_journal_mode(path.parent) == "WAL":
            _retry_locked(lambda: connection.execute("PRAGMA journal_mode = WAL").fetchone())
            synchronous = "NORMAL"
        else:  # a rollback journal; FULL is the durable setting for it (NORMAL is for WAL)
            synchronous = "FULL" if leave_wal(connection) == "DELETE" else "NORMAL"
        connection.execute(f"PRAGMA synchronous = {synchronous}")

        def create() -> None:
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.execute(_CREATE)
                connection.execute(f"PRAGMA user_version = {INDEX_VERSION}")
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version != INDEX_VERSION:
            if version != 0:
                raise sqlite3.DatabaseError(f"index version {version}, expected {INDEX_VERSION}")
            _retry_locked(create)
    except BaseException:
        connection.close()
        raise
    return connection


def _headline(record: Mapping[str, Any], stage: str, metric: str) -> float | None:
    estimate = record["metrics"][stage].get(metric)
    return None if estimate is None else float(estimate["value"])


def _index_row(record: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        record["run_id"],
        record["suite"],
        record["method"],
        record["method_label"],
        record["seed"],
        record["profile"],
        f"{RECORDS_DIR}/{record['run_id']}.json",
        record["checksum"],
        _headline(record, "sft", "pass@1"),
        _headline(record, "rl", "pass@1"),
        _headline(record, "sft", "pass@8"),
        _headline(record, "rl", "pass@8"),
    )


def _in_transaction(
    connection: sqlite3.Connection, statements: Iterable[tuple[str, tuple[Any, ...]]]
) -> None:
    statements = list(statements)

    def run() -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                connection.execute(sql, params)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    _retry_locked(run)


def _remove_index_files(results_dir: str | Path) -> None:
    base = index_path(results_dir)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{base}{suffix}").unlink(missing_ok=True)


def replace_index(results_dir: str | Path, records: Sequence[Mapping[str, Any]]) -> int:
    """Make the index hold exactly ``records`` (one transaction); a corrupted index file is deleted and recreated.
    Returns the number of rows."""
    try:
        connection = _connect(results_dir)
        ok = connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        ok, connection = False, None
    if not ok:
        if connection is not None:
            connection.close()
        _remove_index_files(results_dir)
        connection = _connect(results_dir)
    try:
        _in_transaction(
            connection, [("DELETE FROM records", ())] + [(_UPSERT, _index_row(r)) for r in records]
        )
    finally:
        connection.close()
    return len(records)


def upsert_index(results_dir: str | Path, record: Mapping[str, Any]) -> None:
    """Insert or replace one record's row in ``<results_dir>/index.sqlite`` (one transaction)."""
    connection = _connect(results_dir)
    try:
        _in_transaction(connection, [(_UPSERT, _index_row(record))])
    finally:
        connection.close()


def index_rows(results_dir: str | Path) -> list[dict[str, Any]]:
    """All rows of the index, ordered by run_id (empty when there is no index yet)."""
    if not index_path(results_dir).exists():
        return []
    connection = _connect(results_dir)
    try:
        cursor = connection.execute(f"SELECT {', '.join(_COLUMNS)} FROM records ORDER BY run_id")
        return [dict(zip(_COLUMNS, row)) for row in cursor.fetchall()]
    finally:
        connection.close()
