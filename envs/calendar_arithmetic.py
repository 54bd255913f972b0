"""Calendar arithmetic in the proleptic Gregorian calendar: weekdays, date offsets and day counts."""

from __future__ import annotations

import datetime
import random
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

KINDS = ("weekday", "after", "before", "between")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_MONTH_LOOKUP = {name.lower(): i + 1 for i, name in enumerate(MONTHS)}
_MONTH_LOOKUP.update({name[:3].lower(): i + 1 for i, name in enumerate(MONTHS)})
_MONTH_LOOKUP["sept"] = 9
_WEEKDAY_LOOKUP = {name.lower(): i for i, name in enumerate(WEEKDAYS)}
_WEEKDAY_LOOKUP.update({name[:3].lower(): i for i, name in enumerate(WEEKDAYS)})
#: the reference date given in every prompt: 1 January 2000 was a Saturday
ANCHOR = (2000, 1, 1)
ANCHOR_WEEKDAY = 5
_MAX_ANSWER_CHARS = 60
#: spans of more years than this are counted with the leap-year rule instead of year by year
_LIST_YEARS = 6


@dataclass(frozen=True)
class CalendarArithmeticConfig:
    min_year: int = 2000
    max_year: int = 2030
    max_days: int = 60
    kinds: str = "weekday,after,between"

    def __post_init__(self) -> None:
        if not 1 <= self.min_year <= self.max_year <= 9999:
            raise ValueError("need 1 <= min_year <= max_year <= 9999")
        if not 1 <= self.max_days <= 100_000:
            raise ValueError(f"max_days must be in 1..100000, got {self.max_days!r}")
        kinds = self.kinds.split(",")
        if not kinds or any(kind not in KINDS for kind in kinds) or len(set(kinds)) != len(kinds):
            raise ValueError(f"kinds must be distinct names from {', '.join(KINDS)}")
        span = datetime.date(self.max_year, 12, 31) - datetime.date(self.min_year, 1, 1)
        if kinds != ["weekday"] and span.days <= self.max_days:
            raise ValueError("the year range must span more than max_days days")


# -- the manual method (no datetime): month lengths, the leap-year rule, walks month by month ---------------------
def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def month_length(year: int, month: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def leaps_through(year: int) -> int:
    """Leap years among 1..year (the Gregorian rule, extended back)."""
    return year // 4 - year // 100 + year // 400


def walk(a: tuple[int, int, int], b: tuple[int, int, int]) -> list[tuple[str, str, int]]:
    """Days from date a to a later (or equal) date b as segments (compact label, wording, days): the rest of a's
    month up to the 1st of the next month, whole months, whole years (year by year, or by the leap rule when many),
    whole months of b's year, then the days into b's month. The segments sum to b - a."""
    (y, m, d), (by, bm, bd) = a, b
    if (y, m) == (by, bm):
        return [(f"d{d}->d{bd}", f"from day {d} to day {bd} of {MONTHS[m - 1]} {y}", bd - d)]
    segments = []
    if d != 1:
        length = month_length(y, m)
        segments.append(
            (
                f"{MONTHS[m - 1][:3]}{y} rest {length}-{d}+1",
                f"the rest of {MONTHS[m - 1]} {y} up to the 1st of the next month ({length} - {d} + 1)",
                length - d + 1,
            )
        )
        m += 1
        if m == 13:
            y, m = y + 1, 1
    while y < by and m != 1:
        segments.append(_month_segment(y, m))
        m += 1
        if m == 13:
            y, m = y + 1, 1
    if y < by:
        count = by - y
        if count <= _LIST_YEARS:
            for year in range(y, by):
                days = 366 if is_leap(year) else 365
                segments.append((f"{year}", f"the year {year} ({days} days)", days))
        else:
            leaps = leaps_through(by - 1) - leaps_through(y - 1)
            total = 365 * count + leaps
            segments.append(
                (
                    f"{y}..{by - 1} {count}*365+{leaps}",
                    f"the {count} whole years {y} to {by - 1} ({count} x 365 days plus {leaps} leap days)",
                    total,
                )
            )
        y = by
    while m < bm:
        segments.append(_month_segment(y, m))
        m += 1
    if bd > 1:
        segments.append((f"d1->d{bd}", f"from the 1st to day {bd} of {MONTHS[bm - 1]} {by}", bd - 1))
    return segments


def _month_segment(year: int, month: int) -> tuple[str, str, int]:
    days = month_length(year, month)
    return (f"{MONTHS[month - 1][:3]}{year} {days}", f"all of {MONTHS[month - 1]} {year} ({days} days)", days)


def iso(date: tuple[int, int, int]) -> str:
    return f"{date[0]:04d}-{date[1]:02d}-{date[2]:02d}"


def _date(text: str) -> tuple[int, int, int]:
    y, m, d = text.split("-")
    return int(y), int(m), int(d)


def _spoken(date: tuple[int, int, int]) -> str:
    return f"{MONTHS[date[1] - 1]} {date[2]}, {date[0]}"


# -- tolerant answer parsing --------------------------------------------------------------------------------------
def _tokens(text: str) -> list[str] | None:
    """Split into runs of ASCII letters and runs of digits; separators are space , . / - ; anything else: None."""
    tokens, current, kind = [], [], ""
    for ch in text.lower():
        this = "a" if "a" <= ch <= "z" else "0" if "0" <= ch <= "9" else ""
        if not this and ch not in " ,./-\t\n":
            return None
        if this != kind and current:
            tokens.append("".join(current))
            current = []
        kind = this
        if this:
            current.append(ch)
    if current:
        tokens.append("".join(current))
    return tokens


def parse_date(text: str) -> tuple[int, int, int] | None:
    """``2024-03-05``, ``2024/3/5``, ``2024.03.05``, ``March 5, 2024``, ``5 March 2024``, ``Mar 5th 2024``; the
    year must be written in full (4 digits) and a numeric date must be year-month-day (never guessed)."""
    tokens = _tokens(text)
    if tokens is None or len(tokens) not in (3, 4):
        return None
    if len(tokens) == 4:  # a day-number suffix: 5th, 1st, 2nd, 3rd
        merged = []
        for token in tokens:
            if merged and token in ("st", "nd", "rd", "th") and merged[-1].isdigit():
                continue
            merged.append(token)
        tokens = merged
        if len(tokens) != 3:
            return None
    year = month = day = None
    if all(token.isdigit() for token in tokens):
        if len(tokens[0]) != 4 or len(tokens[1]) > 2 or len(tokens[2]) > 2:
            return None
        year, month, day = int(tokens[0]), int(tokens[1]), int(tokens[2])
    else:
        names = [token for token in tokens if not token.isdigit()]
        numbers = [token for token in tokens if token.isdigit()]
        if len(names) != 1 or names[0] not in _MONTH_LOOKUP or len(numbers) != 2:
            return None
        month = _MONTH_LOOKUP[names[0]]
        if tokens[0] == names[0] or tokens[1] == names[0]:  # "March 5 2024" or "5 March 2024"
            day_text, year_text = numbers
        else:
            return None
        if len(year_text) != 4 or len(day_text) > 2:
            return None
        year, day = int(year_text), int(day_text)
    if not (1 <= month <= 12 and 1 <= year and 1 <= day <= month_length(year, month)):
        return None
    return year, month, day


def parse_count(text: str) -> int | None:
    """A non-negative whole number, optionally with thousands commas and a trailing "day(s)"."""
    text = text.strip().lower().rstrip(".").strip()
    for suffix in ("days", "day"):
        if text.endswith(suffix):
            text = text[: -len(suffix)].strip()
            break
    if not text or len(text) > 12:
        return None
    groups = text.split(",")
    if any(not group.isascii() or not group.isdigit() for group in groups):
        return None
    if len(groups) > 1 and (len(groups[0]) > 3 or any(len(group) != 3 for group in groups[1:])):
        return None
    return int("".join(groups))


def parse_weekday(text: str) -> int | None:
    tokens = _tokens(text)
    if tokens is None or len(tokens) != 1:
        return None
    return _WEEKDAY_LOOKUP.get(tokens[0])


@register_env
class CalendarArithmetic(Game):
    """Calendar arithmetic: weekdays, dates N days before or after a date, and days between two dates.

    **Rules.** Dates are in the Gregorian calendar extended backwards (proleptic): a year is a leap year when it is
    divisible by 4, except years divisible by 100 that are not divisible by 400. Questions: the weekday of a date
    (the prompt gives the reference fact that 2000-01-01 was a Saturday); the date N days after or before a date;
    the number of days from one date to a later one (the difference, so from a date to the next day is 1).

    **Answer.** A date as ``YYYY-MM-DD`` (also ``2024/3/5``, ``March 5, 2024``, ``5 March 2024``; the year in
    full, numeric dates year first), a weekday name (``Tuesday`` or ``Tue``, any case), or a whole number of days
    (``1,234`` and a trailing ``days`` are fine). Each question has exactly one answer, computed with Python's
    ``datetime`` (proleptic Gregorian), and the parsed answer is compared with it.

    **Levels.** easy: years 2000-2030, offsets up to 60 days, weekday/after/between; medium: years 1900-2100,
    offsets up to 1,000 days, all four kinds; hard: years 1600-2400, offsets up to 20,000 days (knobs
    ``min_year``, ``max_year``, ``max_days``, ``kinds``).

    **Example.** Compact prompt ``2024-02-27 +5`` (the date 5 days after 27 February 2024): February 2024 has 29
    days, 29 - 27 + 1 = 3 days reach March 1, 2 more give ``2024-03-03``.
    """

    name = "calendar_arithmetic"
    title = "CalendarArithmetic"
    family = "date arithmetic"
    category = "arithmetic"
    description = "Weekdays, dates N days away and day counts in the Gregorian calendar."
    Config = CalendarArithmeticConfig
    levels = {
        "easy": {"min_year": 2000, "max_year": 2030, "max_days": 60, "kinds": "weekday,after,between"},
        "medium": {
            "min_year": 1900,
            "max_year": 2100,
            "max_days": 1000,
            "kinds": "weekday,after,before,between",
        },
        "hard": {
            "min_year": 1600,
            "max_year": 2400,
            "max_days": 20000,
            "kinds": "weekday,after,before,between",
        },
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _bounds(self) -> tuple[datetime.date, datetime.date]:
        return datetime.date(self.config.min_year, 1, 1), datetime.date(self.config.max_year, 12, 31)

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        first, last = self._bounds()
        total = (last - first).days
        kind = rng.choice(self.config.kinds.split(","))
        if kind == "weekday":
            date = first + datetime.timedelta(days=rng.randint(0, total))
            return {"kind": kind, "date": date.isoformat()}, WEEKDAYS[date.weekday()]
        while True:
            date = first + datetime.timedelta(days=rng.randint(0, total))
            days = rng.randint(1, self.config.max_days)
            other = date + datetime.timedelta(days=-days if kind == "before" else days)
            if first <= other <= last:
                break
        if kind == "between":
            return {"kind": kind, "start": date.isoformat(), "end": other.isoformat()}, str(days)
        return {"kind": kind, "date": date.isoformat(), "days": days}, other.isoformat()

    def instance_space(self) -> int:
        """Weekday questions: one per date in range. Each other kind: at least (dates - max_days) * max_days, since
        every date at least max_days before the end (after, between) or after the start (before) can take every
        offset 1..max_days."""
        first, last = self._bounds()
        dates = (last - first).days + 1
        total = 0
        for kind in self.config.kinds.split(","):
            total += (
                dates if kind == "weekday" else max(0, dates - self.config.max_days) * self.config.max_days
            )
        return total

    # -- prompts ----------------------------------------------------------------------------------------------
    def prompt(self, instance: Instance) -> str:
        p = instance.problem
        rules = (
            "Use the Gregorian calendar (extended backwards for early years): a leap year is divisible by 4, except "
            "years divisible by 100 that are not divisible by 400."
        )
        if p["kind"] == "weekday":
            question = (
                f"On which day of the week does {p['date']} ({_spoken(_date(p['date']))}) fall? For reference, "
                "2000-01-01 was a Saturday."
            )
            fmt = "the weekday name (for example <answer>Monday</answer>)"
        elif p["kind"] in ("after", "before"):
            question = f"What date is {p['days']} days {p['kind']} {p['date']} ({_spoken(_date(p['date']))})?"
            fmt = "the date as YYYY-MM-DD (for example <answer>2019-07-04</answer>)"
        else:
            question = (
                f"How many days are there from {p['start']} ({_spoken(_date(p['start']))}) to {p['end']} "
                f"({_spoken(_date(p['end']))})? Count the difference: from a date to the next day is 1 day."
            )
            fmt = "the number of days as a whole number (for example <answer>45</answer>)"
        return f"{rules}\n{question}\nWork it out step by step, then give {fmt} inside <answer></answer>."

    def compact_prompt(self, instance: Instance) -> str:
        p = instance.problem
        if p["kind"] == "weekday":
            return f"{p['date']} ?dow\n"
        if p["kind"] == "between":
            return f"{p['start']} .. {p['end']}\n"
        return f"{p['date']} {'+' if p['kind'] == 'after' else '-'}{p['days']}\n"

    # -- verification -----------------------------------------------------------------------------------------
    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        kind = instance.problem["kind"]
        if kind == "weekday":
            return parse_weekday(answer) == WEEKDAYS.index(instance.answer)
        if kind == "between":
            return parse_count(answer) == int(instance.answer)
        parsed = parse_date(answer)
        return parsed is not None and iso(parsed) == instance.answer

    # -- solving: datetime fixes the target date; the trace is the manual walk (month lengths, leap rule) --------
    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        p = instance.problem
        if p["kind"] == "weekday":
            lines, answer = self._solve_weekday(_date(p["date"]), style)
        elif p["kind"] == "between":
            start, end = _date(p["start"]), _date(p["end"])
            lines = self._running(walk(start, end), style, None)
            total = sum(days for _, _, days in walk(start, end))
            if style == "steps":
                lines.insert(0, f"{p['start']} -> {p['end']}")
                lines.append(f"total {total}")
            else:
                lines.insert(0, f"Count from {_spoken(start)} forward to {_spoken(end)}.")
                lines.append(f"Altogether that is {total} days.")
            answer = str(total)
        else:
            lines, answer = self._solve_offset(_date(p["date"]), p["days"], p["kind"] == "after", style)
        return "\n".join(lines) + f"\n<answer>{answer}</answer>"

    @staticmethod
    def _running(segments: list[tuple[str, str, int]], style: str, budget: int | None) -> list[str]:
        """One line per segment with a running total (budget None) or the days still left to go."""
        lines, total = [], 0
        for short, long, days in segments:
            total += days
            if budget is None:
                lines.append(
                    f"{short} = {days}, sum {total}" if style == "steps" else f"Add {long}: {total} so far."
                )
            else:
                left = budget - total
                lines.append(
                    f"{short} = {days}, left {left}"
                    if style == "steps"
                    else f"Use {long}, leaving {left} days."
                )
        return lines

    def _solve_weekday(self, date: tuple[int, int, int], style: str) -> tuple[list[str], str]:
        forward = date >= ANCHOR
        segments = walk(ANCHOR, date) if forward else walk(date, ANCHOR)
        total = sum(days for _, _, days in segments)
        shift = total % 7
        index = (ANCHOR_WEEKDAY + (shift if forward else -shift)) % 7
        answer = WEEKDAYS[index]
        lines = self._running(segments, style, None)
        sign = "+" if forward else "-"
        if style == "steps":
            lines.insert(
                0, f"{iso(ANCHOR)} Sat -> {iso(date)}" if forward else f"{iso(date)} -> {iso(ANCHOR)} Sat"
            )
            lines.append(f"{total} mod 7 = {shift}; Sat {sign} {shift} = {answer[:3]}")
        else:
            where = "after" if forward else "before"
            lines.insert(
                0,
                f"2000-01-01 was a Saturday. Count the days from {_spoken(ANCHOR if forward else date)} to "
                f"{_spoken(date if forward else ANCHOR)}.",
            )
            lines.append(
                f"{_spoken(date)} is {total} days {where} the Saturday; {total} = 7 x {total // 7} + {shift}, so "
                f"the weekday moves {shift} {'forward' if forward else 'back'} from Saturday: {answer}."
            )
        return lines, answer

    def _solve_offset(
        self, date: tuple[int, int, int], days: int, forward: bool, style: str
    ) -> tuple[list[str], str]:
        delta = datetime.timedelta(days=days if forward else -days)
        target_date = datetime.date(*date) + delta
        target = (target_date.year, target_date.month, target_date.day)
        segments = walk(date, target) if forward else list(reversed(walk(target, date)))
        lines = []
        if style == "steps":
            lines.append(f"{iso(date)} {'+' if forward else '-'}{days}")
        else:
            lines.append(f"Start from {_spoken(date)} and go {days} days {'forward' if forward else 'back'}.")
        left = days
        for index, (short, long, count) in enumerate(segments):
            left -= count
            last = index == len(segments) - 1
            into_target_month = target[2] != 1 and target[:2] != date[:2]
            if forward or not last or not into_target_month:
                if style == "steps":
                    lines.append(f"{short} = {count}, left {left}")
                else:
                    lines.append(f"{'Use' if forward else 'Go back through'} {long}, leaving {left} days.")
                continue
            # going back into the target's month from its successor month's 1st: land on length - count + 1
            length = month_length(target[0], target[1])
            if style == "steps":
                lines.append(
                    f"{MONTHS[target[1] - 1][:3]}{target[0]} back {count}: {length}-{count}+1 = d{target[2]}"
                )
            else:
                lines.append(
                    f"The last {count} days go back into {MONTHS[target[1] - 1]} {target[0]}, which has {length} "
                    f"days: {length} - {count} + 1 = day {target[2]}."
                )
        answer = iso(target)
        lines.append(
            f"= {answer}" if style == "steps" else f"So the date is {_spoken(target)}, that is {answer}."
        )
        return lines, answer
