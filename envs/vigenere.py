"""Vigenere cipher with the key given (decrypt or encrypt) or recovered from its length and a known plaintext word.

Unlike :mod:`pearbench.envs.cipher` (a word-list search for the plaintext of an unknown key), this game is about
running the cipher itself: shifting letter by letter under a given key, and, at the hard level, the classical
known-plaintext attack (slide the known word along the ciphertext until the shifts it implies repeat with the key's
period).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

MODES = ("decrypt", "encrypt", "crib")

#: Plaintext words. Written for this module (plain common English words, no third-party list, no licence terms):
#: lowercase a-z, distinct, 3-8 letters, with plenty of 6-8 letter words to serve as known-plaintext cribs.
WORDS: tuple[str, ...] = tuple(
    sorted(
        set(
            """
    acorn actor agent alarm album anchor angle ankle apron arrow attic autumn badge baker bamboo banner barrel
    basket beacon beetle bell bench berry blanket blossom bottle branch breeze brick bridge bucket bundle butter
    button cabin cactus camera candle canoe canyon carpet carrot castle cellar chair chalk cherry chimney circle
    clock cloud clover coast cobalt comet copper cotton crane crayon cricket crystal dancer desert diamond dinner
    dragon drum eagle easel echo elbow ember engine falcon feather fence ferry fiddle finger flag flame flour
    flute forest fossil fountain frost galaxy garden garlic ginger glacier glove goblet granite gravel guitar
    hammer harbor harvest helmet honey hornet island ivory jacket jungle kettle kitten ladder lantern lemon
    lizard locket magnet mango maple marble meadow melon mirror monkey mosaic muffin napkin needle nickel noodle
    nutmeg oasis orange orchard otter oyster paddle palace parrot pebble pencil pepper pillow planet pocket
    pond potato puzzle quartz quiver rabbit radish raven ribbon river rocket saddle salmon sandal satchel
    scarf shadow shelter silver sketch sparrow spider spoon squirrel stable statue summit sunset swallow
    teapot temple thistle thunder ticket timber tomato torch tower tractor trumpet tulip tunnel turnip
    umbrella valley velvet violin volcano wagon walnut walrus window winter wizard yogurt zebra zipper
    """.split()
        )
    )
)
_UPPER = string.ascii_uppercase
_LETTERS = frozenset(string.ascii_letters)
_PUNCTUATION = frozenset(string.punctuation + " \t\r\n")
_GROUP = 5


@dataclass(frozen=True)
class VigenereConfig:
    mode: str = "decrypt"
    n_words: int = 4
    key_length: int = 3
    crib_extra: int = 2

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 2 <= self.n_words <= 12:
            raise ValueError(f"n_words must be in 2..12, got {self.n_words!r}")
        if not 2 <= self.key_length <= 7:
            raise ValueError(f"key_length must be in 2..7, got {self.key_length!r}")
        if not 1 <= self.crib_extra <= 6:
            raise ValueError(f"crib_extra must be in 1..6, got {self.crib_extra!r}")
        if self.key_length + self.crib_extra > max(len(word) for word in WORDS):
            raise ValueError("key_length + crib_extra must not exceed the longest word (8 letters)")


def letters_only(text: str) -> str:
    return "".join(ch.upper() for ch in text if ch in _LETTERS)


def shift_text(text: str, key: str, sign: int) -> str:
    """Shift letter i of ``text`` (non-letters kept and skipped) by ``sign`` * key[i mod len(key)], upper case."""
    out, index = [], 0
    for ch in text.upper():
        if ch not in _UPPER:
            out.append(ch)
            continue
        shift = _UPPER.index(key[index % len(key)])
        out.append(_UPPER[(_UPPER.index(ch) + sign * shift) % 26])
        index += 1
    return "".join(out)


def grouped(letters: str) -> str:
    return " ".join(letters[i : i + _GROUP] for i in range(0, len(letters), _GROUP))


def crib_trials(cipher_letters: str, crib: str, key_length: int) -> list[tuple[int, str | None, tuple]]:
    """Slide ``crib`` along the ciphertext letters. For each start p: (p, key, ()) when the shifts
    c[p+i] - crib[i] repeat with period ``key_length`` (the key then reads them at slots (p+i) mod key_length), or
    (p, None, (i, j)) with the first pair of crib offsets i < j in the same key slot that need different shifts."""
    trials = []
    length = len(crib)
    for start in range(len(cipher_letters) - length + 1):
        shifts = [(ord(cipher_letters[start + i]) - ord(crib[i])) % 26 for i in range(length)]
        conflict: tuple = ()
        for i in range(length - key_length):
            if shifts[i] != shifts[i + key_length]:
                conflict = (i, i + key_length)
                break
        if conflict:
            trials.append((start, None, conflict))
            continue
        key = [""] * key_length
        for i in range(key_length):
            key[(start + i) % key_length] = _UPPER[shifts[i]]
        trials.append((start, "".join(key), ()))
    return trials


def crib_keys(cipher_letters: str, crib: str, key_length: int) -> list[str]:
    """Every distinct key of ``key_length`` letters under which the plaintext contains ``crib``, sorted."""
    return sorted({key for _, key, _ in crib_trials(cipher_letters, crib, key_length) if key is not None})


def _letter_steps(source: str, key: str, offset: int, sign: int) -> list[tuple[str, str, str]]:
    """(source letter, key letter, result letter) for each letter of one word starting at letter index offset."""
    rows = []
    for i, ch in enumerate(source):
        k = key[(offset + i) % len(key)]
        rows.append((ch, k, _UPPER[(_UPPER.index(ch) + sign * _UPPER.index(k)) % 26]))
    return rows


@register_env
class Vigenere(Game):
    """Vigenere cipher: shift each letter by the matching letter of a repeating key (A=0 ... Z=25).

    **Rules.** The key is repeated along the letters of the message (spaces skipped): letter i of the message is
    shifted forward by key letter i mod (key length) to encrypt, backward to decrypt. ``decrypt``: ciphertext and key
    are given, find the plaintext. ``encrypt``: plaintext and key are given, find the ciphertext. ``crib``: only the
    ciphertext (letters in groups of five, word breaks removed), the key length k and one word the plaintext contains
    are given (its position is not); find the plaintext. Plaintexts are words from a small list written for this
    module (no third-party word list).

    **Answer.** The plaintext (or, in ``encrypt``, the ciphertext) letters. Only the letters A-Z count: case,
    spaces and punctuation are ignored; any other character (a digit, a non-ASCII letter) makes the answer wrong. The
    answer is unique, so it is compared with the gold letters: with the key given, decryption and encryption are
    functions of the input; in ``crib`` the generator keeps only messages where exactly one k-letter key puts the
    crib anywhere in the decryption (the crib is longer than k, so each placement fixes the key and must repeat
    with period k; the test suite confirms this against all 26^k keys).

    **Levels.** easy: decrypt 4 words with a 3-letter key; medium: encrypt 5 words with a 4-letter key; hard: crib
    attack on 6 words with a 4-letter key and a crib of at least 6 letters (knobs ``mode``, ``n_words``,
    ``key_length``, ``crib_extra``: the crib has at least key_length + crib_extra letters).

    **Example.** Compact prompt ``dec KEY: MELYI`` (decrypt with the key KEY): M-K=C, E-E=A, L-Y=N, Y-K=O,
    I-E=E, answer ``CANOE``.
    """

    name = "vigenere"
    title = "Vigenere"
    family = "cipher"
    category = "crypto"
    description = "Run a Vigenere cipher with a given key, or recover the key from a known plaintext word."
    Config = VigenereConfig
    levels = {
        "easy": {"mode": "decrypt", "n_words": 4, "key_length": 3},
        "medium": {"mode": "encrypt", "n_words": 5, "key_length": 4},
        "hard": {"mode": "crib", "n_words": 6, "key_length": 4, "crib_extra": 2},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _random_key(self, rng: random.Random) -> str:
        while True:
            key = "".join(rng.choice(_UPPER) for _ in range(self.config.key_length))
            if key != "A" * len(key):
                return key

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        if cfg.mode != "crib":
            plaintext = " ".join(rng.choice(WORDS) for _ in range(cfg.n_words)).upper()
            key = self._random_key(rng)
            ciphertext = shift_text(plaintext, key, 1)
            if cfg.mode == "decrypt":
                return {"mode": "decrypt", "ciphertext": ciphertext, "key": key}, plaintext
            return {"mode": "encrypt", "plaintext": plaintext, "key": key}, ciphertext
        long_words = [word for word in WORDS if len(word) >= cfg.key_length + cfg.crib_extra]
        while True:
            words = [rng.choice(WORDS) for _ in range(cfg.n_words - 1)]
            crib = rng.choice(long_words)
            words.insert(rng.randrange(cfg.n_words), crib)
            plain_letters = "".join(words).upper()
            key = self._random_key(rng)
            cipher_letters = shift_text(plain_letters, key, 1)
            if crib_keys(cipher_letters, crib.upper(), cfg.key_length) == [key]:
                problem = {
                    "mode": "crib",
                    "ciphertext": grouped(cipher_letters),
                    "key_length": cfg.key_length,
                    "crib": crib.upper(),
                }
                return problem, " ".join(words).upper()

    def instance_space(self) -> int:
        """decrypt/encrypt: every word sequence with every key but AAA..A, all distinct texts:
        |WORDS|^n * (26^k - 1). crib: acceptance does not depend on the key (the shifts a placement implies are
        plaintext-minus-crib plus the same key letter, so their periodicity is key-free), so each accepted message
        comes with all 26^k - 1 keys, giving distinct ciphertexts; a safe lower bound is 26^k - 1."""
        cfg = self.config
        keys = 26**cfg.key_length - 1
        if cfg.mode == "crib":
            return keys
        return len(WORDS) ** cfg.n_words * keys

    # -- prompts ----------------------------------------------------------------------------------------------
    def prompt(self, instance: Instance) -> str:
        p = instance.problem
        rule = (
            "In a Vigenere cipher each letter is shifted by a letter of the key (A=0, B=1, ..., Z=25), and the key "
            "is repeated along the letters of the message (spaces do not use up key letters). Encryption shifts "
            "forward, decryption shifts backward, wrapping around the alphabet."
        )
        fmt = "Only the letters count: case, spaces and punctuation are ignored."
        if p["mode"] == "decrypt":
            task = f"Decrypt this ciphertext with the key {p['key']}.\nCiphertext: {p['ciphertext']}"
            ask = "give the plaintext in capital letters (for example <answer>RIVER BOAT</answer>)"
        elif p["mode"] == "encrypt":
            task = f"Encrypt this plaintext with the key {p['key']}.\nPlaintext: {p['plaintext']}"
            ask = "give the ciphertext in capital letters (for example <answer>XQVKT MBRZ</answer>)"
        else:
            task = (
                f"The key has {p['key_length']} letters but is unknown. The ciphertext below is written in groups "
                "of five letters (the plaintext's spaces were removed). The plaintext contains the word "
                f"{p['crib']} somewhere (its position is not given), and exactly one key of {p['key_length']} "
                f"letters makes that true.\nCiphertext: {p['ciphertext']}"
            )
            ask = "give the plaintext in capital letters (word breaks optional)"
        return f"{rule}\n{task}\n{fmt} Work step by step, then {ask} inside <answer></answer>."

    def compact_prompt(self, instance: Instance) -> str:
        p = instance.problem
        if p["mode"] == "decrypt":
            return f"dec {p['key']}: {p['ciphertext']}\n"
        if p["mode"] == "encrypt":
            return f"enc {p['key']}: {p['plaintext']}\n"
        return f"crib {p['crib']} k{p['key_length']}: {p['ciphertext']}\n"

    # -- verification -----------------------------------------------------------------------------------------
    def check(self, instance: Instance, answer: str) -> bool:
        gold = letters_only(instance.answer)
        if len(answer) > 4 * len(gold) + 100:
            return False
        letters = []
        for ch in answer:
            if ch in _LETTERS:
                letters.append(ch.upper())
            elif ch not in _PUNCTUATION:
                return False
        return "".join(letters) == gold

    # -- solving ----------------------------------------------------------------------------------------------
    def _shift_trace(self, text: str, key: str, sign: int, style: str) -> list[str]:
        lines, offset = [], 0
        op = "-" if sign < 0 else "+"
        for number, word in enumerate(text.split(), start=1):
            rows = _letter_steps(word, key, offset, sign)
            result = "".join(r for _, _, r in rows)
            keys = "".join(k for _, k, _ in rows)
            if style == "steps":
                detail = " ".join(f"{s}{op}{k}={r}" for s, k, r in rows)
                lines.append(f"{word} {op}{keys}: {detail} -> {result}")
            else:
                numbers = ", ".join(
                    f"{s} ({_UPPER.index(s)}) {'minus' if sign < 0 else 'plus'} {k} ({_UPPER.index(k)}) "
                    f"is {r} ({_UPPER.index(r)})"
                    for s, k, r in rows
                )
                lines.append(
                    f"Word {number}, {word}, lines up with key letters {keys}: {numbers}; so {result}."
                )
            offset += len(word)
        return lines

    def solve(self, instance: Instance, style: str = "steps") -> str:
        self._check_style(style)
        p = instance.problem
        lines: list[str] = []
        if p["mode"] in ("decrypt", "encrypt"):
            source = p["ciphertext"] if p["mode"] == "decrypt" else p["plaintext"]
            sign = -1 if p["mode"] == "decrypt" else 1
            key = p["key"]
            if style == "steps":
                lines.append(f"key {key} = " + " ".join(str(_UPPER.index(k)) for k in key))
            else:
                values = ", ".join(f"{k}={_UPPER.index(k)}" for k in key)
                verb = "subtract" if sign < 0 else "add"
                lines.append(
                    f"The key {key} gives the shifts {values}. I {verb} them in turn, letter by letter, "
                    "skipping spaces."
                )
            lines += self._shift_trace(source, key, sign, style)
            result = shift_text(source, key, sign)
            if style == "words":
                lines.append(f"Putting the words together gives {result}.")
            return "\n".join(lines) + f"\n<answer>{result}</answer>"
        cipher_letters = letters_only(p["ciphertext"])
        crib, k = p["crib"], p["key_length"]
        found_key = None
        for start, key, conflict in crib_trials(cipher_letters, crib, k):
            window = cipher_letters[start : start + len(crib)]
            if key is None:
                i, j = conflict
                si = (ord(window[i]) - ord(crib[i])) % 26
                sj = (ord(window[j]) - ord(crib[j])) % 26
                if style == "steps":
                    lines.append(
                        f"@{start + 1} {window}: {window[i]}-{crib[i]}={_UPPER[si]} "
                        f"{window[j]}-{crib[j]}={_UPPER[sj]} x"
                    )
                else:
                    lines.append(
                        f"At letter {start + 1}, {crib} would sit under {window}; its letters {i + 1} and {j + 1} "
                        f"use the same key letter but need {_UPPER[si]} and {_UPPER[sj]}, so no."
                    )
                continue
            found_key = key
            shifts = "".join(_UPPER[(ord(w) - ord(c)) % 26] for w, c in zip(window, crib))
            if style == "steps":
                lines.append(f"@{start + 1} {window}-{crib}={shifts} period {k} ok key {key}")
            else:
                lines.append(
                    f"At letter {start + 1}, {crib} sits under {window}: the shifts are {shifts}, which repeat every "
                    f"{k} letters, so the key is {key}."
                )
        if found_key is None:  # cannot happen for generated instances
            return f"<answer>{instance.answer}</answer>"
        plain = shift_text(cipher_letters, found_key, -1)
        for start in range(0, len(cipher_letters), _GROUP):
            chunk = cipher_letters[start : start + _GROUP]
            keys = "".join(found_key[(start + i) % k] for i in range(len(chunk)))
            if style == "steps":
                lines.append(f"{chunk} -{keys} -> {plain[start : start + _GROUP]}")
            else:
                lines.append(f"{chunk} minus key letters {keys} gives {plain[start : start + _GROUP]}.")
        if style == "words":
            lines.append(f"So the plaintext is {plain}.")
        return "\n".join(lines) + f"\n<answer>{plain}</answer>"
