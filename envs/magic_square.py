"""Magic squares: complete an n x n grid of 1..n^2 whose rows, columns and both diagonals share one sum."""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass
from math import comb
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

#: The Lo Shu square; its 8 rotations and reflections are all the 3 x 3 magic squares of 1..9.
LO_SHU = (2, 7, 6, 9, 5, 1, 4, 3, 8)

#: One representative of each class of 4 x 4 magic squares of 1..16 under the 32 position maps that keep every
#: magic square magic (rotations, reflections, and the row-and-column permutations that commute with reversal)
#: and the complement v -> 17 - v. Each square is 16 hex digits, value - 1, row by row. Found once by exhaustive
#: search; the classes expand to all 7,040 4 x 4 magic squares (880 up to rotation and reflection), which the
#: test suite checks.
_REPRESENTATIVES_4 = """
01efbd24c6937a58 01efcd23b6947a58 01fecd32b6857a49 02df9c36e5a17b48 02dfbc34e781596a 02dfec3195a67b48
02dfec31b784596a 02fd7e18c5a3b946 02fdbe14c963758a 02fdce1375a8b946 02fdce13b964758a 03cf7d28e4b19a56
03cf7e18d4b2a965 03cfbd24e871569a 03cfbe14d87265a9 03cfde1274b8a965 03cfde12b87465a9 03cfed2174b89a56
03cfed21b874569a 03de8b56f4a17c29 03decf1274a9b865 03decf12b86574a9 03defa4185b67c29 03defc2165b89a47
03defc21a974568b 03ed8b65f4927c1a 03edcf21749ab856 03edcf21b856749a 03edf94286b57c1a 03edfc1256b8a947
03edfc129a74658b 03fcde21659ab847 03fcde21a956748b 03fced1256a9b847 03fced129a65748b 04bf9a56e3c17d28
04bfda52e781396c 04bfea5193c67d28 04bfea51d782396c 04fb7d2893c6ea15 04fb9d2673c8ea15 04fb9d26ea51738c
04fbed219a56738c 05af6e19d3c2b874 05af7b48e2d19c36 05af7e18b2d4c963 05afb964c2d37e18 05afbe1472d8c963
05afbe14d87263c9 05afc963b2d47e18 05afdb42e871369c 05afde1263c9b874 05afde12b87463c9 05afeb4172d89c36
05afeb41d872369c 05beaf1472c9d863 05beaf14d86372c9 05bec972f6813a4d 05bef861c7923a4d 05befa4163d89c27
05befa41c972368d 05ebaf41729cd836 05ebaf41d836729c 05ebfa149c72638d 05fabe41639cd827 05fabe41c936728d
05faeb149c63728d 069f7b48d1e2ac35 069f7d28b1e4ca53 069fb874e3c15d2a 069fbd2471e8ca53 069fbd24e87153ca
069fd872e5a13b4c 069fdb4271e8ac35 069fdb42e87135ac 069fe871b3c45d2a 069fe871d5a23b4c 069feb41d87235ac
069fed21b87453ca 06bd9f2471cae853 06bd9f24e85371ca 06bdf942ca71358e 06db7c1a83e5f924 06db8e3571caf924
06db8e35f94271ac 06db9f4271ace835 06db9f42e83571ac 06dbf924ac71538e 06f9ac35db42718e 06f9bd42ca35718e
06f9db24ac53718e 06f9dc32ab45718e 079ead34f86152cb 079ecb52f86134ad 07ad9e34f85261cb 07adcb61f852349e
07bcda61e952348f 07bce952da61348f 07cb9e52f83461ad 07cbad61f834529e 07dabc61e934528f 07dae934bc61528f
07e9bc52da34618f 07e9da34bc52618f 10feac35d7826b49 10fedc32a7856b49 12de6c39f5a08b47 12deac35f960478b
12defc3065a98b47 12defc30a965478b 12fc9a74e5836d0b 12fcde30658ba947 12fcde30a947658b 12fce85397a46d0b
13ec4d2bf690a857 13ec8d27fa50649b 13ecfd20469ba857 13ecfd208a57649b 14be6a59f3c08d27 14bea875d3c26f09
14beca53f960278d 14bed872a3c56f09 14befa5063c98d27 14befa50c963278d 14fabe50638dc927 14fabe50c927638d
15ea8c37fb40629d 15eafc308b47629d 16adcb70f843259e 16adf843cb70259e 16cbad70f825439e 16cbf825ad70439e
16f8ad43cb25709e 16f8cb25ad43709e 178eac35f96042db 178eca53f96024bd 178efa50c96324bd 178efc30a96542db
17ac8e35f94260db 17ca8e53f92460bd 21ed5c3af6908b47 21ed9c36fa50478b 21edfc30569a8b47 21edfc309a56478b
21fc6b58d4a39e07 21fca974d6835e0b 21fcd863a7945e0b 21fcda4365b89e07 21fced30568b9a47 21fced309a47568b
24bd596af3c08e17 24bdf96053ca8e17 24f9bd60538eca17 278d9c36fa5041eb 278dfc309a5641eb 279c8d36fa4150eb
30fc5b4ae6918d27 30fceb41569a8d27 32dc596ae4b18f07 32dce96154ba8f07 41eb3a5cf6908d27 41ebfa50369c8d27
41faeb50368d9c27 42db396cf5a08e17 42dbf96035ac8e17 42f9db60358eac17
"""
_SEPARATORS = frozenset(" \t\r\n,;/|[](){}'\"")
_MAX_ANSWER_CHARS = 400


@dataclass(frozen=True)
class MagicSquareConfig:
    size: int = 3
    min_hidden: int = 3
    max_hidden: int = 5

    def __post_init__(self) -> None:
        if self.size not in (3, 4):
            raise ValueError(f"size must be 3 or 4, got {self.size!r}")
        if not 1 <= self.min_hidden <= self.max_hidden <= self.size * self.size:
            raise ValueError("need 1 <= min_hidden <= max_hidden <= size * size")


def magic_sum(n: int) -> int:
    return n * (n * n + 1) // 2


@functools.lru_cache(maxsize=4)
def lines(n: int) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(name, cells) of every row, column and the two diagonals; cells are r * n + c."""
    out = [(f"row {r + 1}", tuple(r * n + c for c in range(n))) for r in range(n)]
    out += [(f"column {c + 1}", tuple(r * n + c for r in range(n))) for c in range(n)]
    out.append(("main diagonal", tuple(i * n + i for i in range(n))))
    out.append(("anti-diagonal", tuple(i * n + n - 1 - i for i in range(n))))
    return tuple(out)


@functools.lru_cache(maxsize=4)
def position_maps(n: int) -> tuple[tuple[int, ...], ...]:
    """The position permutations that keep every n x n magic square magic, generated by a quarter turn, a mirror
    and the simultaneous row-and-column permutations p with p(n-1-i) = n-1-p(i); sorted, so generation is stable.
    A map ``g`` sends square ``s`` to ``tuple(s[g[i]] for i in range(n * n))``."""
    generators = [tuple((n - 1 - c) * n + r for r in range(n) for c in range(n))]
    generators.append(tuple(r * n + n - 1 - c for r in range(n) for c in range(n)))
    for p in itertools.permutations(range(n)):
        if all(p[n - 1 - i] == n - 1 - p[i] for i in range(n)):
            generators.append(tuple(p[r] * n + p[c] for r in range(n) for c in range(n)))
    group = {tuple(range(n * n))}
    frontier = list(group)
    while frontier:
        g = frontier.pop()
        for h in generators:
            composed = tuple(g[h[i]] for i in range(n * n))
            if composed not in group:
                group.add(composed)
                frontier.append(composed)
    return tuple(sorted(group))


@functools.lru_cache(maxsize=1)
def representatives_4() -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(int(ch, 16) + 1 for ch in word) for word in _REPRESENTATIVES_4.split())


def is_magic(square: list[int] | tuple[int, ...], n: int) -> bool:
    """Entries are 1..n^2 each once and every row, column and diagonal sums to n(n^2+1)/2."""
    if len(square) != n * n or sorted(square) != list(range(1, n * n + 1)):
        return False
    target = magic_sum(n)
    return all(sum(square[i] for i in cells) == target for _, cells in lines(n))


def random_magic_square(n: int, rng: random.Random) -> tuple[int, ...]:
    maps = position_maps(n)
    if n == 3:
        base = LO_SHU
    else:
        base = rng.choice(representatives_4())
        if rng.random() < 0.5:
            base = tuple(n * n + 1 - v for v in base)
    g = rng.choice(maps)
    return tuple(base[g[i]] for i in range(n * n))


def parse_square(text: str, n: int) -> list[int] | None:
    """n*n whole numbers separated by spaces, commas, slashes, newlines or brackets; None otherwise."""
    numbers: list[int] = []
    current = ""
    for ch in text + " ":
        if "0" <= ch <= "9":
            current += ch
            if len(current) > 3:
                return None
            continue
        if ch not in _SEPARATORS:
            return None
        if current:
            numbers.append(int(current))
            current = ""
            if len(numbers) > n * n:
                return None
    return numbers if len(numbers) == n * n else None


def _format(square: list[int] | tuple[int, ...], n: int) -> str:
    return "\n".join(" ".join(str(v) for v in square[r * n : (r + 1) * n]) for r in range(n))


class _Contradiction(Exception):
    pass


class _Solver:
    """Fill lines with one empty cell (value = magic sum - the rest); otherwise guess in the empty cell with the
    fewest candidates, a candidate being an unused value that leaves every line through the cell a remainder the
    other unused values can still make up.

    ``log`` gets ("set", cell, value, line name, known values), ("try", cell, value, candidates), ("undo", cell,
    value), ("bad", line name, needed value) and ("sum", line name, sum) events along the whole search."""

    def __init__(self, n: int, grid: list[int], log: list | None = None) -> None:
        self.n = n
        self.grid = list(grid)
        self.target = magic_sum(n)
        self.log = log
        self.lines = lines(n)
        self.through = [[cells for _, cells in self.lines if cell in cells] for cell in range(n * n)]

    def _propagate(self, placed: list[int]) -> None:
        grid, changed = self.grid, True
        while changed:
            changed = False
            for name, cells in self.lines:
                blanks = [i for i in cells if grid[i] == 0]
                if len(blanks) > 1:
                    continue
                known = [grid[i] for i in cells if grid[i]]
                need = self.target - sum(known)
                if not blanks:
                    if need != 0:
                        if self.log is not None:
                            self.log.append(("sum", name, sum(known)))
                        raise _Contradiction
                    continue
                if not 1 <= need <= self.n * self.n or need in grid:
                    if self.log is not None:
                        self.log.append(("bad", name, need))
                    raise _Contradiction
                grid[blanks[0]] = need
                placed.append(blanks[0])
                changed = True
                if self.log is not None:
                    self.log.append(("set", blanks[0], need, name, known))

    def candidates(self, cell: int) -> list[int]:
        grid = self.grid
        unused = [v for v in range(1, self.n * self.n + 1) if v not in grid]
        out = []
        for value in unused:
            others = [v for v in unused if v != value]
            for cells in self.through[cell]:
                rest = self.target - value - sum(grid[i] for i in cells)
                k = sum(1 for i in cells if grid[i] == 0) - 1
                if not sum(others[:k]) <= rest <= sum(others[len(others) - k :]):
                    break
            else:
                out.append(value)
        return out

    def solve(self) -> bool:
        placed: list[int] = []
        try:
            self._propagate(placed)
        except _Contradiction:
            for cell in placed:
                self.grid[cell] = 0
            return False
        blanks = [i for i, v in enumerate(self.grid) if v == 0]
        if not blanks:
            return True
        options, cell = min(
            ((self.candidates(c), c) for c in blanks), key=lambda item: (len(item[0]), item[1])
        )
        for value in options:
            self.grid[cell] = value
            if self.log is not None:
                self.log.append(("try", cell, value, options))
            if self.solve():
                return True
            self.grid[cell] = 0
            if self.log is not None:
                self.log.append(("undo", cell, value))
        for cell in placed:
            self.grid[cell] = 0
        return False


@register_env
class MagicSquare(Game):
    """Magic square completion: fill the hidden cells so every line has the same sum.

    **Rules.** An n x n grid holds each of 1..n^2 exactly once, and every row, every column and both main
    diagonals add up to the magic sum n(n^2+1)/2 (15 for 3 x 3, 34 for 4 x 4). Some cells are given; fill the rest.
    Puzzles come from a random rotation/reflection of the Lo Shu square (3 x 3) or from any of the 7,040 4 x 4
    magic squares (a bundled class representative under a random symmetry and complement), with random cells hidden.

    **Answer.** The full grid row by row, numbers separated by spaces (rows by newlines, ``/`` or ``;``; commas and
    brackets are fine). The verifier checks the rules: every given kept, 1..n^2 each once, every line on the magic
    sum. With many cells hidden a puzzle can have several completions; every one of them is accepted.

    **Levels.** easy: 3 x 3 with 3-5 cells hidden; medium: 4 x 4 with 5-7 hidden; hard: 4 x 4 with 8-10 hidden
    (knobs ``size``, ``min_hidden``, ``max_hidden``).

    **Example.** Compact prompt ``m15 2 _ _/7 5 _/6 _ _``: row 2 gives 15 - 7 - 5 = 3, the main diagonal
    15 - 2 - 5 = 8, the anti-diagonal 15 - 5 - 6 = 4, then rows 1 and 3; answer ``2 9 4/7 5 3/6 1 8``.
    """

    name = "magic_square"
    title = "MagicSquare"
    family = "grid puzzle"
    category = "grid"
    description = "Complete a magic square: every row, column and diagonal must reach the same sum."
    Config = MagicSquareConfig
    levels = {
        "easy": {"size": 3, "min_hidden": 3, "max_hidden": 5},
        "medium": {"size": 4, "min_hidden": 5, "max_hidden": 7},
        "hard": {"size": 4, "min_hidden": 8, "max_hidden": 10},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = True

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        n = cfg.size
        square = random_magic_square(n, rng)
        hidden = set(rng.sample(range(n * n), rng.randint(cfg.min_hidden, cfg.max_hidden)))
        grid = [0 if i in hidden else v for i, v in enumerate(square)]
        problem = {
            "size": n,
            "magic_sum": magic_sum(n),
            "grid": [grid[r * n : (r + 1) * n] for r in range(n)],
        }
        return problem, _format(square, n)

    def instance_space(self) -> int:
        """3 x 3: exact, the distinct partial grids over the 8 squares and every allowed hiding pattern.
        4 x 4: a lower bound, the hiding patterns of one square (each leaves a different partial grid)."""
        cfg = self.config
        n = cfg.size
        counts = range(cfg.min_hidden, cfg.max_hidden + 1)
        if n == 4:
            return sum(comb(16, k) for k in counts)
        squares = {tuple(LO_SHU[g[i]] for i in range(9)) for g in position_maps(3)}
        seen = set()
        for square in squares:
            for k in counts:
                for hidden in itertools.combinations(range(9), k):
                    seen.add(tuple(0 if i in hidden else v for i, v in enumerate(square)))
        return len(seen)

    @staticmethod
    def _grid(instance: Instance) -> tuple[int, list[int]]:
        n = instance.problem["size"]
        return n, [v for row in instance.problem["grid"] for v in row]

    def _render(self, instance: Instance, sep: str) -> str:
        n, grid = self._grid(instance)
        width = len(str(n * n))
        rows = [
            " ".join(str(v).rjust(width) if v else "_".rjust(width) for v in grid[r * n : (r + 1) * n])
            for r in range(n)
        ]
        return sep.join(rows)

    def prompt(self, instance: Instance) -> str:
        n, _ = self._grid(instance)
        return (
            f"Complete this {n}x{n} magic square. Use each whole number from 1 to {n * n} exactly once so that every "
            f"row, every column and both main diagonals add up to {magic_sum(n)}. Given numbers must stay where "
            f"they are; _ marks an empty cell.\n\n{self._render(instance, chr(10))}\n\n"
            "Think step by step, then give the completed square inside <answer></answer>, one row per line, "
            "numbers separated by spaces."
        )

    def compact_prompt(self, instance: Instance) -> str:
        n, _ = self._grid(instance)
        return f"m{magic_sum(n)} {self._render(instance, '/')}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        n, grid = self._grid(instance)
        square = parse_square(answer, n)
        if square is None or any(g and g != v for g, v in zip(grid, square)):
            return False
        return is_magic(square, n)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        n, grid = self._grid(instance)
        log: list = []
        solver = _Solver(n, grid, log)
        if solver.solve():
            square = solver.grid
        else:  # cannot happen: every puzzle is cut from a magic square
            square = list(parse_square(instance.answer, n) or grid)
        target = magic_sum(n)

        def name(cell: int) -> str:
            return f"r{cell // n + 1}c{cell % n + 1}"

        lines_out = []
        if style == "words":
            lines_out.append(f"Every line must add up to {target}.")
        for event in log:
            kind = event[0]
            if kind == "set":
                _, cell, value, line, known = event
                if style == "steps":
                    lines_out.append(
                        f"{line}: {target}-{'-'.join(map(str, known))}={value} -> {name(cell)}={value}"
                    )
                else:
                    lines_out.append(
                        f"{line.capitalize()} has one empty cell, {name(cell)}: {target} - "
                        f"{' - '.join(map(str, known))} = {value}."
                    )
            elif kind == "try" and len(event[3]) == 1:
                lines_out.append(
                    f"{name(event[1])} in {{{event[2]}}} -> {name(event[1])}={event[2]}"
                    if style == "steps"
                    else f"Only {event[2]} fits {name(event[1])}: any other unused value leaves a line through it a "
                    "remainder the other unused numbers cannot make."
                )
            elif kind == "try":
                options = ",".join(map(str, event[3]))
                lines_out.append(
                    f"{name(event[1])} in {{{options}}}: try {event[2]}"
                    if style == "steps"
                    else f"{name(event[1])} can only be one of {options.replace(',', ', ')}; suppose it is {event[2]}."
                )
            elif kind == "undo":
                lines_out.append(
                    f"undo {name(event[1])}={event[2]}"
                    if style == "steps"
                    else f"That fails, so {name(event[1])} is not {event[2]}."
                )
            elif kind == "bad":
                lines_out.append(
                    f"{event[1]} needs {event[2]}: impossible"
                    if style == "steps"
                    else f"{event[1].capitalize()} would need {event[2]}, which is out of range or already used."
                )
            else:
                lines_out.append(
                    f"{event[1]} sums to {event[2]}: wrong"
                    if style == "steps"
                    else f"{event[1].capitalize()} adds up to {event[2]}, not {target}."
                )
        return "\n".join(lines_out) + f"\n<answer>\n{_format(square, n)}\n</answer>"
