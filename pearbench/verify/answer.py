"""The shared answer-extraction rule (docs/design.md §3), used by RL rewards and evaluators alike.

In order:
1. drop everything up to the last ``</think>``; a ``<think>`` opened and never closed means no answer;
2. the content of the last ``<answer>...</answer>``, if any;
3. else the content of the last balanced ``\\boxed{...}``;
4. (math only, in :mod:`pearbench.verify.normalize`) math-verify's own extraction on the remaining text.

All functions are pure, linear-time string scans (no regex backtracking), so a 1 MB completion is cheap.
"""

from __future__ import annotations

import re

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"
BOXED = "\\boxed"
_BRACES = re.compile(r"[{}]")


def strip_think(text: str) -> str | None:
    """Text after the last ``</think>``; None when a ``<think>`` is opened and never closed."""
    close = text.rfind(THINK_CLOSE)
    if close >= 0:
        rest = text[close + len(THINK_CLOSE) :]
    else:
        rest = text
    if THINK_OPEN in rest:
        return None
    return rest


def last_answer_tag(text: str) -> str | None:
    """Content of the last complete ``<answer>...</answer>`` pair, stripped; None if there is none.

    Linear time: the last ``</answer>`` that has an ``<answer>`` before it is the last ``</answer>`` overall, as long
    as some ``<answer>`` precedes it.
    """
    first_open = text.find(ANSWER_OPEN)
    if first_open < 0:
        return None
    close = text.rfind(ANSWER_CLOSE)
    if close < first_open + len(ANSWER_OPEN):
        return None
    open_ = text.rfind(ANSWER_OPEN, 0, close)
    return text[open_ + len(ANSWER_OPEN) : close].strip()


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` whose braces balance; None if there is none.

    One pass matches every brace after the first ``\\boxed`` (a stack), so hostile inputs stay linear.
    """
    first = text.find(BOXED)
    if first < 0:
        return None
    closing: dict[int, int] = {}
    stack: list[int] = []
    for match in _BRACES.finditer(text, first):
        if match.group() == "{":
            stack.append(match.start())
        elif stack:
            closing[stack.pop()] = match.start()
    start = text.rfind(BOXED)
    while start >= 0:
        index = start + len(BOXED)
        while index < len(text) and text[index] == " ":
            index += 1
        if index < len(text) and text[index] == "{" and index in closing:
            return text[index + 1 : closing[index]].strip()
        start = text.rfind(BOXED, 0, start)
    return None


def extract_answer(text: str | None) -> str | None:
    """Steps 1-3 of the rule: what a game verifier accepts as the model's answer."""
    if not isinstance(text, str):
        return None
    rest = strip_think(text)
    if rest is None:
        return None
    tagged = last_answer_tag(rest)
    if tagged is not None:
        return tagged
    return last_boxed(rest)
