"""The SQLite index on shared filesystems: WAL on local folders, a rollback journal on network ones (read from a
mount table; the tests use a fake one through ``pearbench.results.netfs.MOUNTS_FILE``)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest_records import make_record

from pearbench.results import netfs
from pearbench.results.index import index_path, index_rows
from pearbench.results.records import (
    load_records,
    rebuild_index,
    record_path,
    write_record,
)

TESTS_DIR = Path(__file__).resolve().parent


def fake_mounts(tmp_path: Path, lines: list[tuple[str, str]]) -> Path:
    """A mount table in /proc/self/mounts format: (mount point, type) per line, spaces escaped as the kernel does."""
    path = tmp_path / "mounts"
    text = "".join(
        f"dev{i} {point.replace(' ', chr(92) + '040')} {fs_type} rw,relatime 0 0\n"
        for i, (point, fs_type) in enumerate(lines)
    )
    path.write_text(text)
    return path


@pytest.fixture
def shared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder the (fake) mount table declares an NFS mount; the rest of tmp_path is ext4."""
    folder = tmp_path / "cluster share"
    folder.mkdir()
    real = os.path.realpath(tmp_path)
    mounts = fake_mounts(tmp_path, [("/", "ext4"), (real, "ext4"), (os.path.realpath(folder), "nfs4")])
    monkeypatch.setattr(netfs, "MOUNTS_FILE", str(mounts))
    return folder


def journal_mode(results_dir: Path) -> str:
    with contextlib.closing(sqlite3.connect(index_path(results_dir))) as connection:
        return connection.execute("PRAGMA journal_mode").fetchone()[0]


# -- reading the mount table --------------------------------------------------------------------------------------


def test_longest_mount_prefix_decides(tmp_path: Path) -> None:
    mounts = fake_mounts(
        tmp_path,
        [
            ("/", "ext4"),
            ("/mnt/nfs", "nfs"),
            ("/mnt/nfs/scratch", "xfs"),
            ("/mnt/lus", "lustre"),
            ("/mnt/my data", "gpfs"),
            ("/mnt/over", "ext4"),
            ("/mnt/over", "ceph"),  # mounted later on the same point: it hides the first
        ],
    )
    assert netfs.filesystem_type("/mnt/nfs/runs", mounts) == "nfs"
    assert netfs.filesystem_type("/mnt/nfs", mounts) == "nfs"
    assert netfs.filesystem_type("/mnt/nfs/scratch/runs", mounts) == "xfs"
    assert (
        netfs.filesystem_type("/mnt/nfsother/runs", mounts) == "ext4"
    )  # a prefix of the name, not of the path
    assert netfs.filesystem_type("/mnt/lus/a/b", mounts) == "lustre"
    assert netfs.filesystem_type("/mnt/my data/runs", mounts) == "gpfs"
    assert netfs.filesystem_type("/mnt/over/runs", mounts) == "ceph"
    assert netfs.filesystem_type("/home/me/runs", mounts) == "ext4"
    assert netfs.sqlite_journal_mode("/mnt/nfs/runs", mounts) == "DELETE"
    assert netfs.sqlite_journal_mode("/mnt/nfs/scratch/runs", mounts) == "WAL"
    assert netfs.sqlite_journal_mode("/home/me/runs", mounts) == "WAL"


@pytest.mark.parametrize(
    ("fs_type", "network"),
    [
        *[(t, True) for t in ("nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "9p", "ceph")],
        *[(t, True) for t in ("fuse", "fuse.sshfs", "fuse.gcsfuse", "fuseblk")],
        *[(t, False) for t in ("ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", None, "")],
    ],
)
def test_network_types(fs_type: str | None, network: bool) -> None:
    assert netfs.is_network_fs_type(fs_type) is network


def test_symbolic_links_are_followed_to_the_real_folder(shared: Path, tmp_path: Path) -> None:
    link = tmp_path / "runs-link"
    link.symlink_to(shared, target_is_directory=True)
    assert netfs.on_network_filesystem(link / "runs")
    assert not netfs.on_network_filesystem(tmp_path / "local")


def test_without_a_mount_table_a_folder_counts_as_local(tmp_path: Path) -> None:
    assert netfs.filesystem_type(tmp_path, tmp_path / "no-such-mounts") is None
    assert netfs.sqlite_journal_mode(tmp_path, tmp_path / "no-such-mounts") == "WAL"


# -- the index -----------------------------------------------------------------------------------------------------


def test_index_on_a_network_folder_uses_a_rollback_journal(shared: Path) -> None:
    results = shared / "runs"
    write_record(results, make_record(seed=0))
    write_record(results, make_record(seed=1))
    assert journal_mode(results) == "delete"
    leftovers = [
        p.name for p in results.iterdir() if p.name.startswith("index.sqlite") and p != index_path(results)
    ]
    assert leftovers == []  # no -wal / -shm files, and the rollback journal is gone after each commit
    assert [row["seed"] for row in index_rows(results)] == [0, 1]


def test_index_on_a_local_folder_keeps_wal(shared: Path, tmp_path: Path) -> None:
    results = tmp_path / "local-runs"
    write_record(results, make_record())
    assert journal_mode(results) == "wal"


def test_an_index_made_in_wal_mode_is_switched_on_a_network_folder(shared: Path, monkeypatch) -> None:
    results = shared / "runs"
    monkeypatch.setattr(netfs, "MOUNTS_FILE", str(shared / "absent"))  # no table: counts as local, WAL
    write_record(results, make_record(seed=0))
    assert journal_mode(results) == "wal"
    monkeypatch.undo()
    monkeypatch.setattr(netfs, "MOUNTS_FILE", str(shared.parent / "mounts"))
    write_record(results, make_record(seed=1))
    assert journal_mode(results) == "delete"
    assert [row["seed"] for row in index_rows(results)] == [0, 1]


def test_a_wal_index_held_open_elsewhere_is_written_in_wal_then_switched(
    shared: Path, monkeypatch, caplog
) -> None:
    results = shared / "runs"
    monkeypatch.setattr(netfs, "MOUNTS_FILE", str(shared / "absent"))
    write_record(results, make_record(seed=0))
    monkeypatch.setattr(netfs, "MOUNTS_FILE", str(shared.parent / "mounts"))
    monkeypatch.setattr(netfs, "SWITCH_TIMEOUT_S", 0.3)
    other = sqlite3.connect(index_path(results))  # another process's open connection, in WAL mode
    try:
        assert other.execute("SELECT count(*) FROM records").fetchone()[0] == 1
        start = time.monotonic()
        write_record(results, make_record(seed=1))  # neither fails nor waits for the busy timeout
        assert time.monotonic() - start < 10
        assert "stays in WAL mode" in caplog.text
        assert journal_mode(results) == "wal"
    finally:
        other.close()
    write_record(results, make_record(seed=2))
    assert journal_mode(results) == "delete"
    assert [row["seed"] for row in index_rows(results)] == [0, 1, 2]


def test_rebuild_on_a_network_folder_gives_the_same_rows_as_on_a_local_one(
    shared: Path, tmp_path: Path
) -> None:
    network, local = shared / "runs", tmp_path / "local-runs"
    records = [make_record(seed=seed, method=method) for seed in range(3) for method in ("sft", "dft")]
    for results in (network, local):
        for record in records:
            write_record(results, record)
        # a record added behind the index's back and a record removed: both fixed by the rebuild
        extra = make_record(seed=9, method="pear-seq")
        record_path(results, extra["run_id"]).write_text(json.dumps(extra))
        record_path(results, records[0]["run_id"]).unlink()
    assert journal_mode(network) == "delete" and journal_mode(local) == "wal"
    assert rebuild_index(network) == rebuild_index(local) == len(records)
    rows = index_rows(network)
    assert rows == index_rows(local)
    assert [r["run_id"] for r in rows] == sorted(r["run_id"] for r in load_records(network))
    assert journal_mode(network) == "delete"
    # a corrupted index on the network folder is deleted and rebuilt, still without WAL
    index_path(network).write_bytes(b"not an sqlite database" * 100)
    assert rebuild_index(network) == len(records)
    assert index_rows(network) == rows and journal_mode(network) == "delete"


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest_records import make_record
    from pearbench.results import netfs
    from pearbench.results.records import write_record

    netfs.MOUNTS_FILE = {mounts!r}
    worker, count = int(sys.argv[1]), int(sys.argv[2])
    for i in range(count):
        write_record({results!r}, make_record(method="sft", method_label="m%d" % worker, seed=i, n_problems=6, n=4))
    """
)


def test_concurrent_writers_on_a_network_folder_keep_the_index_exact(shared: Path) -> None:
    results = shared / "runs"
    script = WRITER.format(tests=str(TESTS_DIR), mounts=netfs.MOUNTS_FILE, results=str(results))
    workers, per_worker = 3, 8
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(w), str(per_worker)], stderr=subprocess.PIPE, text=True
        )
        for w in range(workers)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    assert journal_mode(results) == "delete"
    with sqlite3.connect(index_path(results)) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = index_rows(results)
    assert len(rows) == workers * per_worker
    assert sorted(r["run_id"] for r in rows) == sorted(r["run_id"] for r in load_records(results))
