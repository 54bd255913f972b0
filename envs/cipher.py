"""Classical ciphers: decrypt a short message of common English words (Caesar, Vigenere or substitution).

- ``caesar``: every letter is shifted forward in the alphabet by the same secret amount (1..25).
- ``vigenere``: the key is a word of ``key_length`` letters; the i-th letter of the message (spaces skipped) is
  shifted forward by the key letter i mod key_length (A=0, B=1, ...). The key length is given, the key is not.
- ``substitution``: every plaintext letter is replaced by its own cipher letter (a random permutation); a hint
  reveals some cipher letter -> plaintext letter pairs.

Spaces between words are kept. The plaintext is built from :data:`WORDS`, and the generator only emits messages whose
decryption is unique over that word list (for substitution it adds hints until it is), so the verifier compares the
answer with the plaintext after normalising case, punctuation and spacing.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from math import perm
from typing import Any

from pearbench.envs.base import Game, Instance
from pearbench.registry import register_env

KINDS = ("caesar", "vigenere", "substitution")

#: Plaintexts are drawn from this fixed list (lowercase, distinct, 2-7 letters).
WORDS: tuple[str, ...] = tuple(
    sorted(
        set(
            """
    able about above after again air all also always and animal answer any apple are area ask away baby back bad
    ball bank bear bed before begin best big bird black blue boat body book both box boy bread bring brown build
    but buy call came can car care cat change child city class clean clear close cold come cook could country cow
    cup cut dark day deep did dog door down draw dream drink drive dry each early earth east easy eat egg end enough
    even ever eye face fall family far farm fast father feel few field find fire first fish five fly food foot for
    forest found four free friend from front full game garden gave get girl give glass go gold good grass great
    green ground group grow had hand happy hard has hat have head hear heart help her here high hill him his hold
    home horse hot house how idea into iron island jump just keep kind king know lake land large last late laugh
    learn leave left letter life light like line lion list little live long look love low made make man many map
    may mean meet milk mind money moon more morning most mother mountain move much music must name near never new
    next night north not now number ocean off often old once one only open other our out over page paper park part
    people picture place plant play point poor quick quiet rain read real red rest rich right river road rock room
    round run sail salt same sand save say school sea see seed send ship shoe short show side sing sister sit six
    sky sleep slow small snow soft some song soon sound south speak spring stand star start stone stop story street
    strong study summer sun table take talk tall tea teach tell ten than that the their them then there these they
    thing think this three time today together too took top tree true try turn two under until upon use very voice
    walk wall want warm was watch water wave way well went were west what wheel when where which white who why wide
    wild will wind window winter wish with woman wood word work world write year yellow yes young
    """.split()
        )
    )
)
_ALPHABET = string.ascii_lowercase
_MAX_ANSWER_CHARS = 500
_NODE_BUDGET = 20_000
_WORDS_BY_LENGTH: dict[int, list[str]] = {}
_WORDS_BY_PATTERN: dict[tuple[int, ...], list[str]] = {}


@dataclass(frozen=True)
class CipherConfig:
    kind: str = "caesar"
    n_words: int = 4
    key_length: int = 3
    hint_letters: int = 4

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not 2 <= self.n_words <= 12:
            raise ValueError(f"n_words must be in 2..12, got {self.n_words!r}")
        if not 2 <= self.key_length <= 6:
            raise ValueError(f"key_length must be in 2..6, got {self.key_length!r}")
        if not 0 <= self.hint_letters <= 26:
            raise ValueError(f"hint_letters must be in 0..26, got {self.hint_letters!r}")


def normalise_text(text: str) -> str:
    """Lowercase, every non-letter becomes a space, runs of spaces collapse."""
    return " ".join("".join(ch if ch in _ALPHABET else " " for ch in text.lower()).split())


def shift_encrypt(plaintext: str, key: list[int]) -> str:
    """Letter i of the message (spaces skipped) becomes (p + key[i mod len(key)]) mod 26, in upper case."""
    out, index = [], 0
    for ch in plaintext:
        if ch == " ":
            out.append(" ")
            continue
        out.append(_ALPHABET[(_ALPHABET.index(ch) + key[index % len(key)]) % 26].upper())
        index += 1
    return "".join(out)


def substitution_encrypt(plaintext: str, table: dict[str, str]) -> str:
    return "".join(" " if ch == " " else table[ch].upper() for ch in plaintext)


def _pattern(word: str) -> tuple[int, ...]:
    """Letter-repeat pattern: "hello" -> (0, 1, 2, 2, 3); kept by Caesar and substitution, not by Vigenere."""
    first: dict[str, int] = {}
    return tuple(first.setdefault(ch, len(first)) for ch in word)


for _word in WORDS:
    _WORDS_BY_LENGTH.setdefault(len(_word), []).append(_word)
    _WORDS_BY_PATTERN.setdefault(_pattern(_word), []).append(_word)


class _Search:
    """Word-by-word backtracking: give each cipher word a list word of the same length that fits the key so far.

    Shift ciphers (Caesar is key length 1): state = known shift per key position; a word fixes the shifts of the
    positions it covers. Substitution: state = the partial cipher<->plain letter bijection (hints preloaded).
    Cipher words are tried longest first; candidate words in alphabetical order.
    """

    def __init__(self, kind: str, ciphertext: str, key_length: int, hints: dict[str, str]) -> None:
        self.kind = kind
        self.key_length = 1 if kind == "caesar" else key_length
        self.words = ciphertext.lower().split()
        self.offsets = []
        offset = 0
        for word in self.words:
            self.offsets.append(offset)
            offset += len(word)
        self.order = sorted(range(len(self.words)), key=lambda i: (-len(self.words[i]), i))
        self.hints = dict(hints)
        self.nodes = 0

    def _fit_shift(self, index: int, candidate: str, shifts: dict[int, int]) -> dict[int, int] | None:
        new: dict[int, int] = {}
        for position, (c, p) in enumerate(zip(self.words[index], candidate)):
            slot = (self.offsets[index] + position) % self.key_length
            shift = (ord(c) - ord(p)) % 26
            if shifts.get(slot, new.get(slot, shift)) != shift:
                return None
            if slot not in shifts:
                new[slot] = shift
        return new

    def _fit_substitution(
        self, index: int, candidate: str, to_plain: dict[str, str], to_cipher: dict[str, str]
    ):
        new: dict[str, str] = {}
        for c, p in zip(self.words[index], candidate):
            known = to_plain.get(c, new.get(c))
            if known is not None:
                if known != p:
                    return None
                continue
            if p in to_cipher or p in new.values():
                return None
            new[c] = p
        return new

    def solutions(self) -> Iterator[list[tuple[int, str, dict]]]:
        """Yield each full decryption as the list of (word index, plaintext word, key facts it added)."""
        path: list[tuple[int, str, dict]] = []
        to_plain = dict(self.hints)
        to_cipher = {p: c for c, p in self.hints.items()}
        shifts: dict[int, int] = {}

        def walk(depth: int) -> Iterator[list[tuple[int, str, dict]]]:
            if depth == len(self.order):
                yield list(path)
                return
            index = self.order[depth]
            cipher_word = self.words[index]
            if self.kind == "vigenere":
                candidates = _WORDS_BY_LENGTH.get(len(cipher_word), [])
            else:
                candidates = _WORDS_BY_PATTERN.get(_pattern(cipher_word), [])
            for candidate in candidates:
                self.nodes += 1
                if self.nodes > _NODE_BUDGET:
                    return
                if self.kind == "substitution":
                    added = self._fit_substitution(index, candidate, to_plain, to_cipher)
                    if added is None:
                        continue
                    to_plain.update(added)
                    to_cipher.update({p: c for c, p in added.items()})
                else:
                    added = self._fit_shift(index, candidate, shifts)
                    if added is None:
                        continue
                    shifts.update(added)
                path.append((index, candidate, added))
                yield from walk(depth + 1)
                path.pop()
                for key in added:
                    if self.kind == "substitution":
                        del to_cipher[to_plain.pop(key)]
                    else:
                        del shifts[key]

        yield from walk(0)


def count_decryptions(
    kind: str, ciphertext: str, key_length: int, hints: dict[str, str], limit: int = 2
) -> int:
    """Number of decryptions over :data:`WORDS` (stops at ``limit``); ``limit`` also when the search budget runs out."""
    search = _Search(kind, ciphertext, key_length, hints)
    count = 0
    for _ in search.solutions():
        count += 1
        if count >= limit:
            return count
    return limit if search.nodes > _NODE_BUDGET else count


def _unique_under_shift(word: str, period: int) -> bool:
    """No other list word of the same length differs from ``word`` by a shift pattern of period ``period``."""
    for other in _WORDS_BY_LENGTH[len(word)]:
        if other == word:
            continue
        diffs = [(ord(a) - ord(b)) % 26 for a, b in zip(other, word)]
        if all(diffs[i] == diffs[i % period] for i in range(len(diffs))):
            return False
    return True


@register_env
class Cipher(Game):
    name = "cipher"
    title = "Cipher"
    family = "cipher"
    category = "crypto"
    description = "Decrypt a Caesar, Vigenere or substitution cipher of common English words."
    Config = CipherConfig
    levels = {
        "easy": {"kind": "caesar", "n_words": 4},
        "medium": {"kind": "vigenere", "n_words": 5, "key_length": 3},
        "hard": {"kind": "substitution", "n_words": 6, "hint_letters": 4},
    }
    trace_styles = ("steps", "words")
    multiple_solutions = False

    def _generate(self, rng: random.Random) -> tuple[dict[str, Any], str]:
        cfg = self.config
        while True:
            plaintext = " ".join(rng.choice(WORDS) for _ in range(cfg.n_words))
            if cfg.kind == "substitution":
                shuffled = list(_ALPHABET)
                rng.shuffle(shuffled)
                table = dict(zip(_ALPHABET, shuffled))
                ciphertext = substitution_encrypt(plaintext, table)
                present = sorted(set(ciphertext.replace(" ", "")))
                rng.shuffle(present)
                to_plain = {table[p].upper(): p for p in _ALPHABET}
                revealed = min(cfg.hint_letters, len(present))
                while True:
                    hints = {c: to_plain[c] for c in present[:revealed]}
                    lowered = {c.lower(): p for c, p in hints.items()}
                    if count_decryptions(cfg.kind, ciphertext, 1, lowered) == 1:
                        break
                    revealed += 1
                problem = {"kind": cfg.kind, "ciphertext": ciphertext, "hints": hints}
                return problem, plaintext
            length = 1 if cfg.kind == "caesar" else cfg.key_length
            key = [rng.randint(1, 25) for _ in range(length)]
            ciphertext = shift_encrypt(plaintext, key)
            if count_decryptions(cfg.kind, ciphertext, length, {}) == 1:
                problem = {"kind": cfg.kind, "ciphertext": ciphertext}
                if cfg.kind == "vigenere":
                    problem["key_length"] = length
                return problem, plaintext

    def instance_space(self) -> int:
        """Lower bound from families whose decryption is unique, so distinct members give distinct ciphertexts.

        Shift ciphers: first word w with no other list word of its length that differs from w by a key-periodic
        shift (the first word then fixes the key), any other words, any key: U * |WORDS|^(n-1) * 25^k.
        Substitution: one word with m letters repeated n times under every permutation: 26!/(26-m)!.
        """
        cfg = self.config
        if cfg.kind == "substitution":
            return perm(26, max(len(set(word)) for word in WORDS))
        period = 1 if cfg.kind == "caesar" else cfg.key_length
        unique_first = sum(1 for word in WORDS if len(word) >= period and _unique_under_shift(word, period))
        return unique_first * len(WORDS) ** (cfg.n_words - 1) * 25**period

    def _describe(self, instance: Instance) -> str:
        kind = instance.problem["kind"]
        if kind == "caesar":
            return (
                "a Caesar cipher: every letter was shifted forward in the alphabet by the same secret amount"
            )
        if kind == "vigenere":
            return (
                f"a Vigenere cipher with a secret key of {instance.problem['key_length']} letters: the letters of "
                "the message (spaces skipped) were shifted forward by the key letters in turn, A=0, B=1, and so on"
            )
        hints = ", ".join(f"{c}={p}" for c, p in sorted(instance.problem["hints"].items()))
        return (
            "a substitution cipher: each letter was replaced by its own secret cipher letter. "
            f"Hint (cipher=plain): {hints}"
        )

    def prompt(self, instance: Instance) -> str:
        return (
            f"This message was encrypted with {self._describe(instance)}. Spaces between words are kept, and the "
            f"message is made of common English words.\nCiphertext: {instance.problem['ciphertext']}\n"
            "Decrypt it step by step, then give the plaintext in lowercase inside <answer></answer>, for example "
            "<answer>the cat can run</answer>."
        )

    def compact_prompt(self, instance: Instance) -> str:
        problem = instance.problem
        head = {
            "caesar": "caesar",
            "vigenere": f"vigenere{problem.get('key_length', '')}",
            "substitution": "sub",
        }
        extra = ""
        if problem["kind"] == "substitution":
            extra = " " + ",".join(f"{c}={p}" for c, p in sorted(problem["hints"].items()))
        return f"{head[problem['kind']]}{extra}: {problem['ciphertext']}\n"

    def check(self, instance: Instance, answer: str) -> bool:
        if len(answer) > _MAX_ANSWER_CHARS:
            return False
        return normalise_text(answer) == normalise_text(instance.answer)

    def solve(self, instance: Instance, style: str = "steps") -> str:
        """Word-by-word search (longest cipher words first); the trace gives each word's reading and the key facts
        it fixes, along the branch that succeeded (rejected candidate words are not written out)."""
        self._check_style(style)
        problem = instance.problem
        kind = problem["kind"]
        key_length = 1 if kind == "caesar" else problem.get("key_length", 1)
        hints = {c.lower(): p for c, p in problem.get("hints", {}).items()}
        search = _Search(kind, problem["ciphertext"], key_length, hints)
        found = next(search.solutions(), None)
        if found is None:
            raise RuntimeError("cipher has no decryption over the word list")  # the generator guarantees one
        plain_words = [""] * len(search.words)
        lines = []
        for index, candidate, added in found:
            plain_words[index] = candidate
            cipher_word = search.words[index].upper()
            if kind == "substitution":
                facts = ",".join(f"{c.upper()}={p}" for c, p in sorted(added.items()))
                if style == "steps":
                    lines.append(f"{cipher_word}={candidate}" + (f" -> {facts}" if facts else " ok"))
                elif facts:
                    lines.append(
                        f"{cipher_word} fits the word {candidate}, so cipher {facts.replace(',', ', ')}."
                    )
                else:
                    lines.append(f"{cipher_word} reads {candidate} with the letters already known.")
            else:
                facts = ",".join(
                    f"k{slot + 1}={_ALPHABET[shift].upper()}" for slot, shift in sorted(added.items())
                )
                if kind == "caesar":
                    facts = ",".join(f"shift {shift}" for shift in added.values())
                if style == "steps":
                    lines.append(f"{cipher_word}={candidate}" + (f" -> {facts}" if facts else " ok"))
                elif facts:
                    lines.append(f"{cipher_word} can be {candidate}, which gives {facts.replace(',', ', ')}.")
                else:
                    lines.append(f"With that key {cipher_word} decrypts to {candidate}.")
        plaintext = " ".join(plain_words)
        return "\n".join(lines) + f"\n<answer>{plaintext}</answer>"
