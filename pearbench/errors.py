"""The one error type a user can cause.

Anything a user can get wrong (unknown environment or method, malformed config or data file, NaN in inputs) raises
:class:`PearbenchError` with one message that names the bad value and what is allowed. The CLI prints that message on
one line and exits with code 2, no traceback. It subclasses ``ValueError`` so library callers can catch either.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PearbenchError(ValueError):
    """A user-caused error with a one-line, self-explaining message."""


def close_match(value: object, candidates: Iterable[object]) -> str | None:
    """The candidate closest to ``value`` (:func:`difflib.get_close_matches`, case-insensitive), or None.

    The candidate is returned as spelled in ``candidates``: ``close_match("PEAR-SEQ", ["pear-seq"]) == "pear-seq"``.
    """
    spelled: dict[str, str] = {}
    for candidate in candidates:
        spelled.setdefault(str(candidate).lower(), str(candidate))
    matches = difflib.get_close_matches(str(value).lower(), list(spelled), n=1)
    return spelled[matches[0]] if matches else None


def unknown(
    kind: str, value: object, allowed: Iterable[object], *, suggest: bool | str | None = False
) -> PearbenchError:
    """Build the standard 'unknown X' error listing the allowed choices.

    ``suggest=True`` adds the closest allowed choice ("unknown method 'PEAR-SEQ'; did you mean pear-seq? choose one
    of: ..."), as Gymnasium does for environment ids; a string is used as the suggestion itself (for lookups that
    match on other spellings than the ones listed). Without a close choice the message is the plain one.
    """
    allowed = sorted(str(a) for a in allowed)
    choices = ", ".join(allowed) or "(none registered)"
    suggestion = close_match(value, allowed) if suggest is True else (suggest or None)
    hint = f"did you mean {suggestion}? " if suggestion and suggestion != str(value) else ""
    return PearbenchError(f"unknown {kind} {value!r}; {hint}choose one of: {choices}")
