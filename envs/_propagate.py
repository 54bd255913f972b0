"""Constraint propagation and search over bitmask domains, shared by Futoshiki and Zebra.

A domain is an int whose bit ``v - 1`` is set while value ``v`` (a digit, a house) is still possible. Both games
split their variables into *units* that use every value of ``1..n`` exactly once (a Futoshiki row or column, a Zebra
category) and propagate two rules over them:

- a variable fixed to one value takes that value away from its peers (:func:`eliminate_singles`);
- a value with only one place left in a unit goes there (:func:`hidden_singles`).

The helpers work in place, in a fixed order (the games' solver traces depend on it), and raise
:class:`Contradiction` when the domains admit no solution. With a ``note`` callback they report every narrowing, so
the logging solvers (traces) and the silent ones (generation calls them thousands of times) share them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any

#: ``note(var, new, cause, value)``: ``var``'s domain just became ``new`` because of ``value`` (1-based): for
#: :func:`eliminate_singles` ``cause`` is the fixed variable that took ``value``; for :func:`hidden_singles` it is the
#: tag of the unit in which ``value`` has no other place.
Note = Callable[[int, int, int, int], None]


class Contradiction(Exception):
    """The domains admit no solution."""


def low(mask: int) -> int:
    """1-based index of the lowest set bit (the smallest possible value); 0 for an empty mask."""
    return (mask & -mask).bit_length()


def mask_values(mask: int) -> list[int]:
    """The 1-based values whose bits are set, ascending."""
    return [v + 1 for v in range(mask.bit_length()) if mask >> v & 1]


def solved(domains: Sequence[int]) -> bool:
    """Is every domain a single value (or empty)?"""
    return all(mask & (mask - 1) == 0 for mask in domains)


def eliminate_singles(
    domains: list[int],
    variables: Iterable[int],
    peers: Sequence[Sequence[int]],
    spread: list[bool],
    note: Note | None = None,
) -> bool:
    """Remove the value of each newly fixed variable among ``variables`` from its ``peers`` (all other variables that
    share a unit with it). ``spread[var]`` marks variables already done; it persists across calls so each single is
    spread once. Returns whether any domain changed."""
    changed = False
    for var in variables:
        mask = domains[var]
        if not spread[var] and mask & (mask - 1) == 0:
            spread[var] = True
            for peer in peers[var]:
                value = domains[peer]
                if value & mask:
                    value &= ~mask
                    if not value:
                        raise Contradiction
                    domains[peer] = value
                    changed = True
                    if note is not None:
                        note(peer, value, var, low(mask))
    return changed


def hidden_singles(
    domains: list[int], units: Iterable[tuple[int, Sequence[int]]], full: int, note: Note | None = None
) -> bool:
    """In each ``(cause, unit)`` of ``units``, fix every variable that is the only place left for some value; ``full``
    has a bit for every value a unit must use. Raises :class:`Contradiction` when a value has no place in a unit or
    one variable is the only place of two values. Returns whether any domain changed."""
    changed = False
    for cause, unit in units:
        once = twice = 0
        for var in unit:
            twice |= once & domains[var]
            once |= domains[var]
        if once != full:
            raise Contradiction
        only = once & ~twice
        if only:
            for var in unit:
                hit = domains[var] & only
                if hit and hit != domains[var]:
                    if hit & (hit - 1):
                        raise Contradiction  # two values that both fit only here
                    domains[var] = hit
                    changed = True
                    if note is not None:
                        note(var, hit, cause, low(hit))
    return changed


def narrow(domains: list[int], var: int, mask: int) -> bool:
    """Intersect ``var``'s domain with ``mask``; returns whether it shrank, raises :class:`Contradiction` if emptied."""
    old = domains[var]
    new = old & mask
    if new == old:
        return False
    if not new:
        raise Contradiction
    domains[var] = new
    return True


def search(
    domains: list[int],
    propagate: Callable[[list[int]], None],
    limit: int,
    log: list | None = None,
    label: Callable[[int], Any] | None = None,
) -> list[list[int]]:
    """Up to ``limit`` solutions by propagation plus depth-first search, each the 1-based value of every variable.

    Branches on the open variable with the fewest values (lowest index on ties), values ascending. With ``log``,
    records ``("guess", label(var), value)`` before a branch and ``("undo", label(var), value)`` after a failed one.
    """
    found: list[list[int]] = []

    def visit(domains: list[int]) -> None:
        try:
            propagate(domains)
        except Contradiction:
            return
        open_vars = [var for var in range(len(domains)) if domains[var] & (domains[var] - 1)]
        if not open_vars:
            found.append([low(mask) for mask in domains])
            return
        var = min(open_vars, key=lambda v: (domains[v].bit_count(), v))
        name = var if label is None else label(var)
        for value in mask_values(domains[var]):
            if log is not None:
                log.append(("guess", name, value))
            trial = list(domains)
            trial[var] = 1 << (value - 1)
            visit(trial)
            if len(found) >= limit:
                return
            if log is not None:
                log.append(("undo", name, value))

    visit(domains)
    return found


def random_latin_square(n: int, rng: random.Random) -> list[list[int]]:
    """A random Latin square over 1..n by randomised backtracking, cell by cell (every square has positive
    probability). Used by futoshiki, kenken and skyscrapers."""
    grid = [[0] * n for _ in range(n)]
    rows = [0] * n
    cols = [0] * n

    def fill(cell: int) -> bool:
        if cell == n * n:
            return True
        r, c = divmod(cell, n)
        options = [v for v in range(1, n + 1) if not (rows[r] | cols[c]) >> v & 1]
        rng.shuffle(options)
        for v in options:
            grid[r][c] = v
            rows[r] |= 1 << v
            cols[c] |= 1 << v
            if fill(cell + 1):
                return True
            rows[r] &= ~(1 << v)
            cols[c] &= ~(1 << v)
        grid[r][c] = 0
        return False

    fill(0)
    return grid


#: Characters allowed between the cells of a grid answer (and ignored).
GRID_SEPARATORS = frozenset(" \t\r\n,;|/[](){}'\"")


def parse_square_grid(text: str, n: int, alphabet: str = "0123456789") -> list[list[int]] | None:
    """n*n one-character cells from ``alphabet``, row-major, with any :data:`GRID_SEPARATORS` between them; None if
    anything else appears or the count is not n*n (stops reading past n*n cells, so it is linear and bounded).
    Used by futoshiki, kenken, skyscrapers (digits) and binairo (``"01"``)."""
    cells = []
    for char in text:
        if char in alphabet:
            cells.append(ord(char) - 48)
            if len(cells) > n * n:
                return None
        elif char not in GRID_SEPARATORS:
            return None
    if len(cells) != n * n:
        return None
    return [cells[r * n : (r + 1) * n] for r in range(n)]
