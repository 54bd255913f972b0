"""The one error type a user can cause.

Anything a user can get wrong (unknown environment or method, malformed config or data file, NaN in inputs) raises
:class:`PearbenchError` with one message that names the bad value and what is allowed. The CLI prints that message on
one line and exits with code 2, no traceback. It subclasses ``ValueError`` so library callers can catch either.
"""

from __future__ import annotations

from collections.abc import Iterable


class PearbenchError(ValueError):
    """A user-caused error with a one-line, self-explaining message."""


def unknown(kind: str, value: object, allowed: Iterable[object]) -> PearbenchError:
    """Build the standard 'unknown X' error listing the allowed choices."""
    choices = ", ".join(sorted(str(a) for a in allowed)) or "(none registered)"
    return PearbenchError(f"unknown {kind} {value!r}; choose one of: {choices}")
