"""Is a folder on a network filesystem? Read from the mount table, for the SQLite index's journal mode.

SQLite documents WAL mode as unsafe on network filesystems (its shared-memory index needs every process on one
host), and cluster sweeps write their results to exactly such folders (NFS, Lustre, GPFS, ...). The index
(:mod:`pearbench.results.records`) therefore uses WAL only on a local filesystem and a rollback journal
(``journal_mode = DELETE``) on a network one. The filesystem of a folder is the type of the mount whose mount point
is the longest prefix of the folder's real path, read from :data:`MOUNTS_FILE` (Linux's ``/proc/self/mounts``;
tests point it to a fake table). Where no mount table can be read (not Linux), a folder counts as local.

An index created in WAL mode (by an older pearbench, or before the folder moved) is switched to the rollback journal
by the first connection that has it to itself (:func:`leave_wal`); while other connections hold it open in WAL mode,
a connection keeps WAL for its one transaction, with a warning, rather than failing the write.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

#: The mount table read by :func:`filesystem_type` (one mount per line: device, mount point, type, options, ...).
MOUNTS_FILE = "/proc/self/mounts"
#: Filesystem types that are network (or otherwise shared) filesystems; ``fuse`` and every ``fuse.<name>`` as well.
NETWORK_FS_TYPES = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "9p", "ceph", "beegfs", "afs", "glusterfs"}
)
#: Seconds :func:`leave_wal` keeps trying while other connections hold a WAL-mode database open.
SWITCH_TIMEOUT_S = 5.0
_log = logging.getLogger(__name__)


def _unescape(field: str) -> str:
    r"""A mount-table field with its octal escapes (``\040`` for a space, ``\011``, ``\012``, ``\134``) decoded."""
    out, i = [], 0
    while i < len(field):
        chunk = field[i + 1 : i + 4]
        if field[i] == "\\" and len(chunk) == 3 and all(c in "01234567" for c in chunk):
            out.append(chr(int(chunk, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def read_mounts(mounts_file: str | Path | None = None) -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount in the table, in its order; empty if it cannot be read."""
    try:
        text = Path(mounts_file or MOUNTS_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    mounts = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3:
            mounts.append((_unescape(fields[1]), fields[2]))
    return mounts


def filesystem_type(path: str | Path, mounts_file: str | Path | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (``ext4``, ``nfs4``, ...), or None without a mount table.

    ``path`` is resolved (symbolic links followed) first; the mount whose point is the longest prefix of it wins,
    and of several mounts on the same point the last one (it hides the others).
    """
    real = os.path.realpath(path)
    best: tuple[int, str] | None = None
    for point, fs_type in read_mounts(mounts_file):
        point = point.rstrip("/") or "/"
        if real == point or point == "/" or real.startswith(point + "/"):
            if best is None or len(point) >= best[0]:
                best = (len(point), fs_type)
    return None if best is None else best[1]


def is_network_fs_type(fs_type: str | None) -> bool:
    """Whether ``fs_type`` is a network filesystem type (:data:`NETWORK_FS_TYPES`, ``fuse`` and ``fuse.*``)."""
    if not fs_type:
        return False
    fs_type = fs_type.lower()
    return fs_type in NETWORK_FS_TYPES or fs_type.startswith("fuse")


def on_network_filesystem(path: str | Path, mounts_file: str | Path | None = None) -> bool:
    """Whether ``path`` lies on a network filesystem according to the mount table (False without one)."""
    return is_network_fs_type(filesystem_type(path, mounts_file))


def sqlite_journal_mode(path: str | Path, mounts_file: str | Path | None = None) -> str:
    """The journal mode for an SQLite database in the folder ``path``: ``WAL`` on a local filesystem, ``DELETE``
    (a rollback journal, safe over NFS and the like) on a network one."""
    return "DELETE" if on_network_filesystem(path, mounts_file) else "WAL"


def leave_wal(connection: sqlite3.Connection, timeout_s: float | None = None) -> str:
    """Put ``connection``'s database in rollback-journal mode (``DELETE``); return the journal mode in force.

    Leaving WAL needs the database to itself: while other connections hold it open, this retries for ``timeout_s``
    (default :data:`SWITCH_TIMEOUT_S`), then keeps WAL for this connection and logs a warning. A database not in WAL
    mode (every index created on a network folder) is left as it is.
    """
    current = str(connection.execute("PRAGMA journal_mode").fetchone()[0]).upper()
    if current != "WAL":
        return current
    deadline = time.monotonic() + (SWITCH_TIMEOUT_S if timeout_s is None else timeout_s)
    busy_ms = connection.execute("PRAGMA busy_timeout").fetchone()[0]
    connection.execute("PRAGMA busy_timeout = 50")
    try:
        while True:
            try:
                return str(connection.execute("PRAGMA journal_mode = DELETE").fetchone()[0]).upper()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if time.monotonic() > deadline:
                    _log.warning(
                        "the results index is in WAL mode on a network filesystem and other connections hold it "
                        "open; it stays in WAL mode until one connection has it to itself"
                    )
                    return str(connection.execute("PRAGMA journal_mode").fetchone()[0]).upper()
                time.sleep(0.05)
    finally:
        connection.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
