"""The shared bitmask propagation helpers (envs/_propagate.py) against slow, set-based references and brute force."""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable

import pytest

from pearbench.envs import _propagate as prop


def _mask(values: set[int]) -> int:
    return sum(1 << (v - 1) for v in values)


def _sets(domains: list[int]) -> list[set[int]]:
    return [{v for v in range(1, 33) if _has(d, v)} for d in domains]


def _has(mask: int, value: int) -> bool:
    return format(mask, "b").zfill(32)[-value] == "1"


def _latin(n: int) -> tuple[list[list[int]], list[list[int]]]:
    """Rows then columns of an n x n grid (cells r * n + c), and each cell's peers in ascending order."""
    units = [[r * n + c for c in range(n)] for r in range(n)] + [
        [r * n + c for r in range(n)] for c in range(n)
    ]
    peers = [sorted({p for unit in units if cell in unit for p in unit} - {cell}) for cell in range(n * n)]
    return units, peers


def _collect(notes: list) -> Callable[..., None]:
    """A ``note`` callback that appends its arguments to ``notes``."""
    return lambda *note: notes.append(note)


def _random_domains(rng: random.Random, n: int, count: int, single_share: float = 0.3) -> list[int]:
    domains = []
    for _ in range(count):
        if rng.random() < single_share:
            domains.append(1 << rng.randrange(n))
        else:
            domains.append(_mask(set(rng.sample(range(1, n + 1), rng.randint(1, n)))))
    return domains


# -- slow references: sets of values, the rules exactly as the docstrings state them ------------------------------
def _ref_eliminate(domains, variables, peers, spread):
    """(domains, spread, changed, notes) or ("contradiction", notes)."""
    doms, spread, notes, changed = _sets(domains), list(spread), [], False
    for var in variables:
        if not spread[var] and len(doms[var]) <= 1:
            spread[var] = True
            for peer in peers[var]:
                if doms[peer] & doms[var]:
                    doms[peer] = doms[peer] - doms[var]
                    if not doms[peer]:
                        return "contradiction", notes
                    changed = True
                    (value,) = doms[var]
                    notes.append((peer, _mask(doms[peer]), var, value))
    return [_mask(d) for d in doms], spread, changed, notes


def _ref_hidden(domains, units, n):
    doms, notes, changed = _sets(domains), [], False
    for cause, unit in units:
        places = {v: [var for var in unit if v in doms[var]] for v in range(1, n + 1)}
        if any(not where for where in places.values()):
            return "contradiction", notes
        for var in unit:
            forced = {v for v, where in places.items() if where == [var]}
            if forced and forced != doms[var]:
                if len(forced) > 1:
                    return "contradiction", notes
                doms[var] = forced
                changed = True
                notes.append((var, _mask(forced), cause, min(forced)))
    return [_mask(d) for d in doms], changed, notes


@functools.cache
def _latin_squares(n: int) -> list[tuple[int, ...]]:
    """Every n x n Latin square, flattened row-major, in lexicographic order (rows from permutations)."""
    squares: list[tuple[int, ...]] = [()]
    for _ in range(n):
        squares = [
            square + row
            for square in squares
            for row in itertools.permutations(range(1, n + 1))
            if all(row[c] != square[r * n + c] for r in range(len(square) // n) for c in range(n))
        ]
    return squares


def _brute(n: int, domains: list[int]) -> list[list[int]]:
    """Every Latin square whose cells lie inside ``domains``, in lexicographic order."""
    return [
        list(square)
        for square in _latin_squares(n)
        if all(_has(domains[cell], value) for cell, value in enumerate(square))
    ]


# -- tests ---------------------------------------------------------------------------------------------------------
def test_bit_helpers_against_string_reference() -> None:
    for mask in range(1 << 9):
        bits = [i + 1 for i, char in enumerate(reversed(format(mask, "b"))) if char == "1"]
        assert prop.mask_values(mask) == bits
        assert prop.low(mask) == (bits[0] if bits else 0)
        assert prop.solved([mask, 1]) == (len(bits) <= 1)


def test_narrow() -> None:
    domains = [0b1011]
    assert prop.narrow(domains, 0, 0b1111) is False and domains == [0b1011]
    assert prop.narrow(domains, 0, 0b0011) is True and domains == [0b0011]
    with pytest.raises(prop.Contradiction):
        prop.narrow(domains, 0, 0b0100)
    assert domains == [0b0011]


def test_eliminate_singles_matches_reference() -> None:
    rng = random.Random(1)
    for _ in range(3000):
        n = rng.choice([2, 3, 4, 5])
        units, peers = _latin(n)
        domains = _random_domains(rng, n, n * n)
        spread = [rng.random() < 0.2 for _ in range(n * n)]
        variables = rng.sample(range(n * n), rng.randint(0, n * n))
        expected = _ref_eliminate(domains, variables, peers, spread)
        notes: list = []
        got_domains, got_spread = list(domains), list(spread)
        try:
            changed = prop.eliminate_singles(got_domains, variables, peers, got_spread, _collect(notes))
        except prop.Contradiction:
            assert expected == ("contradiction", notes)
            continue
        assert (got_domains, got_spread, changed, notes) == expected
        # without a note: the same result
        silent_domains, silent_spread = list(domains), list(spread)
        assert prop.eliminate_singles(silent_domains, variables, peers, silent_spread) == changed
        assert (silent_domains, silent_spread) == (got_domains, got_spread)


def test_hidden_singles_matches_reference() -> None:
    rng = random.Random(2)
    contradictions = 0
    for _ in range(3000):
        n = rng.choice([2, 3, 4, 5])
        units, _ = _latin(n)
        domains = _random_domains(rng, n, n * n, single_share=0.1)
        tagged = [(index * 7, unit) for index, unit in enumerate(units)]
        rng.shuffle(tagged)
        expected = _ref_hidden(domains, tagged, n)
        notes: list = []
        got = list(domains)
        try:
            changed = prop.hidden_singles(got, tagged, (1 << n) - 1, _collect(notes))
        except prop.Contradiction:
            contradictions += 1
            assert expected == ("contradiction", notes)
            continue
        assert (got, changed, notes) == expected
        silent = list(domains)
        assert prop.hidden_singles(silent, tagged, (1 << n) - 1) == changed and silent == got
    assert 100 < contradictions < 2900  # both outcomes exercised


def _propagator(units, peers, full, log):
    def propagate(domains: list[int]) -> None:
        spread = [False] * len(domains)
        changed = True
        while changed:
            changed = prop.eliminate_singles(domains, range(len(domains)), peers, spread, log)
            changed |= prop.hidden_singles(domains, enumerate(units), full, log)

    return propagate


def test_propagation_is_sound_and_search_finds_exactly_the_brute_force_solutions() -> None:
    rng = random.Random(3)
    for _ in range(150):
        n = rng.choice([2, 3, 4])
        units, peers = _latin(n)
        full = (1 << n) - 1
        domains = [full] * (n * n)
        for cell in rng.sample(range(n * n), rng.randint(0, n + 1)):
            domains[cell] = _mask(set(rng.sample(range(1, n + 1), rng.randint(1, 2))))
        expected = _brute(n, domains)
        notes: list = []
        propagated = list(domains)
        try:
            _propagator(units, peers, full, _collect(notes))(propagated)
        except prop.Contradiction:
            assert expected == []
        else:
            # sound: no solution is lost; every note tells the domain it set
            assert all(all(_has(propagated[i], v) for i, v in enumerate(s)) for s in expected)
            for _, new, _, value in notes:
                assert new & (1 << (value - 1)) == 0 or new == 1 << (value - 1)
            last = {var: new for var, new, _, _ in notes}
            assert all(propagated[var] == new for var, new in last.items())
        found = prop.search(list(domains), _propagator(units, peers, full, None), limit=10**6)
        assert sorted(found) == expected
        if len(expected) >= 2:
            assert len(prop.search(list(domains), _propagator(units, peers, full, None), limit=1)) == 1


def test_search_logs_guesses_and_undos_with_labels() -> None:
    pair = _propagator([[0, 1]], [[1], [0]], 0b11, None)

    def propagate(domains: list[int]) -> None:  # two cells, different values, and the first one is not 1
        if domains[0] == 0b01:
            raise prop.Contradiction
        pair(domains)

    log: list = []
    assert prop.search([0b11, 0b11], propagate, 5, log, label=lambda var: f"x{var}") == [[2, 1]]
    assert log == [("guess", "x0", 1), ("undo", "x0", 1), ("guess", "x0", 2), ("undo", "x0", 2)]
    log.clear()
    assert prop.search([0b11, 0b11], propagate, 1, log) == [[2, 1]]
    assert log == [("guess", 0, 1), ("undo", 0, 1), ("guess", 0, 2)]  # stops at the limit, no undo
    assert prop.search([0b01, 0b01], pair, 5) == []
    # branches on the open variable with the fewest values, the lowest index on ties, values ascending
    row = _propagator([[0, 1, 2]], [[1, 2], [0, 2], [0, 1]], 0b111, None)
    log.clear()
    assert prop.search([0b111, 0b011, 0b111], row, 1, log) == [[2, 1, 3]]
    assert log == [("guess", 1, 1), ("guess", 0, 2)]
