"""File input and output shared by the package.

- Atomic writes: a crash never leaves half a file where a reader looks.
- :func:`iter_jsonl`: the one JSONL reader. Every problem with the file itself (missing, unreadable, not UTF-8, a
  line that is not JSON or not a JSON object) raises one :class:`~pearbench.errors.PearbenchError` naming the file
  and, where there is one, the line: ``<what> '<path>' does not exist``, ``<path>, line <n>: not valid JSON (...)``.
  Callers check the fields of each object themselves and name the line with :func:`jsonl_where`.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pearbench.errors import PearbenchError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]


def _umask_mode() -> int:
    """The mode a new file gets under the process umask (0o666 & ~umask), read without changing it for long."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _temporary(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` with the mode a plain ``open()`` would give (mkstemp makes 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.fchmod(fd, _umask_mode())
    return fd, tmp


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename); the file gets the umask's mode."""
    path = Path(path)
    fd, tmp = _temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True, allow_nan=False) + "\n")


def atomic_write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` write to a temporary path in the same folder, then rename it into place."""
    path = Path(path)
    fd, tmp = _temporary(path)
    os.close(fd)
    try:
        writer(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@contextlib.contextmanager
def file_lock(path: str | Path) -> Iterator[None]:
    """An exclusive advisory lock (fcntl) held for the block; released when the process dies."""
    import fcntl

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------------- JSONL


def jsonl_where(path: str | Path, number: int) -> str:
    """How every message about one line of a JSONL file names it: ``<path>, line <n>``."""
    return f"{path}, line {number}"


def require_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path if it is an existing file, else PearbenchError ``<what> '<path>' does not exist``."""
    path = Path(path)
    if not path.exists():
        raise PearbenchError(f"{what} {str(path)!r} does not exist")
    if not path.is_file():
        raise PearbenchError(f"{what} {str(path)!r} is not a file")
    return path


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return type(value).__name__


def json_error_text(exc: json.JSONDecodeError) -> str:
    """``exc``'s reason and column, worded once: json's "Unterminated string starting at" already ends in "at"."""
    reason = exc.msg[: -len(" at")] if exc.msg.endswith(" at") else exc.msg
    return f"{reason} at column {exc.colno}"


def iter_jsonl(path: str | Path, what: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` for each non-blank line of the JSONL file ``path`` (numbers start at 1).

    ``what`` names the file in file-level messages ("completions file"). Raises PearbenchError when the file does
    not exist or cannot be read, or when a line is not UTF-8, not valid JSON or not a JSON object; the message names
    the file and the line. The objects' fields are the caller's to check. Lazy: errors surface while iterating.
    """
    path = require_file(path, what)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise PearbenchError(f"{what} {str(path)!r} cannot be read ({exc.strerror or exc})") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            where = jsonl_where(path, number)
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PearbenchError(
                    f"{where}: not valid UTF-8 ({exc.reason} at byte {exc.start + 1} of the line)"
                ) from None
            if not line.strip():
                continue
            try:
                value = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as exc:
                raise PearbenchError(f"{where}: not valid JSON ({json_error_text(exc)})") from None
            if not isinstance(value, dict):
                raise PearbenchError(f"{where}: expected a JSON object, got {_json_kind(value)}")
            yield number, value


def finite_log(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A per-step training log with every non-finite float (NaN, inf) replaced by None, so it is valid JSON."""
    return [
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in entry.items()}
        for entry in log
    ]


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is one error naming ``what`` and the path."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise PearbenchError(f"{what} file not found: {path}") from None
    except IsADirectoryError:
        raise PearbenchError(f"{what} file {path} is a folder") from None
    except tomllib.TOMLDecodeError as exc:
        raise PearbenchError(f"malformed {what} file {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise PearbenchError(f"malformed {what} file {path}: not UTF-8 ({exc.reason})") from None


def load_toml(resource: Any, what: str) -> dict[str, Any]:
    """A packaged TOML file (an ``importlib.resources`` traversable) as a dict."""
    try:
        with resource.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise PearbenchError(f"malformed {what} file {resource}: {exc}") from None


def check_output_dir(path: str | Path, what: str) -> Path:
    """Refuse, before any work, an output folder that is a file or lies under a file (one clear error)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise PearbenchError(f"{what} {str(path)!r} is a file, not a folder")
    _check_parents(path, what)
    return path


def check_output_file(path: str | Path, what: str) -> Path:
    """Refuse, before any work, an output file that is a folder or whose parent is a file (one clear error)."""
    path = Path(path)
    if path.is_dir():
        raise PearbenchError(f"{what} {str(path)!r} is a folder, not a file")
    _check_parents(path, what)
    return path


def _check_parents(path: Path, what: str) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise PearbenchError(f"{what} {str(path)!r} lies under {str(parent)!r}, which is a file")
            return
