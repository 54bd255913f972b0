"""The one verdict type shared by game and math verifiers (docs/design.md §3)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    """Outcome of checking one completion.

    correct: the extracted answer is right.
    error: set only when the check itself failed (timeout, verifier exception); such a verdict is never correct and
        is reported separately everywhere.
    extracted: the answer string the extraction rule found, or None.
    """

    correct: bool
    error: str | None = None
    extracted: str | None = None

    def __post_init__(self) -> None:
        if self.error is not None and self.correct:
            raise ValueError("a Verdict with an error cannot be correct")

    @property
    def reward(self) -> float:
        return 1.0 if self.correct else 0.0
