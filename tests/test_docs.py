"""The docs stay true: their imports work, design citations resolve, nothing points outside the repository.

- every ``import``/``from ... import`` statement in a fenced ```` ```python ```` block of ``README.md`` and
  ``docs/*.md`` runs (one subprocess for all; moved-module shims count as failures);
- every "DESIGN §N" or "docs/design.md §N" citation anywhere in the repository names a "## N." section of
  ``docs/design.md`` (and "§N.M" a numbered item M of that section, e.g. §1.3 = stage 3 of §1);
- no file refers users to the design document outside the repository.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"

FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
IMPORT_START = re.compile(r"^[ \t]*(?:import\s+[\w.]|from\s+[\w.]+\s+import\b)")
HEADING = re.compile(r"^## (\d+)\. \S", re.MULTILINE)
ANCHOR = re.compile(r"(?:\bDESIGN(?:\.md)?|\bdocs/design\.md)")
# right after the anchor ("DESIGN §3", "DESIGN §1.3"), then chained ones ("…, §4 (…) and §6")
FIRST_CITE = re.compile(r"[ \t]*§[ \t]*(\d+)((?:\.\d+)*)")
MORE_CITE = re.compile(r"([^§\n]|\n(?!\s*\n)){0,30}?§[ \t]*(\d+)((?:\.\d+)*)")


# ----------------------------------------------------------------------------------------------- (a) imports


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def import_statements(markdown: str) -> list[str]:
    """The import statements of the fenced python blocks, each dedented; parenthesised ones may span lines."""
    statements = []
    for block in FENCE.findall(markdown):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            if not IMPORT_START.match(lines[i]):
                i += 1
                continue
            chunk = [lines[i]]
            while (_depth("\n".join(chunk)) > 0 or chunk[-1].rstrip().endswith("\\")) and i + 1 < len(lines):
                i += 1
                chunk.append(lines[i])
            statements.append(textwrap.dedent("\n".join(chunk)).strip())
            i += 1
    return statements


def _depth(code: str) -> int:
    """Open parentheses left in ``code`` (comments ignored)."""
    code = "\n".join(line.split("#", 1)[0] for line in code.split("\n"))
    return code.count("(") - code.count(")")


def collect_imports() -> list[tuple[str, str]]:
    """(where, statement) for every import statement of the docs, in file order."""
    found = []
    for path in doc_files():
        if path.exists():
            for statement in import_statements(path.read_text(encoding="utf-8")):
                found.append((str(path.relative_to(ROOT)), statement))
    return found


RUNNER = r"""
import json, sys, warnings
failures = []
for where, statement in json.loads(sys.stdin.read()):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            exec(compile(statement, where, "exec"), {})
        except BaseException as exc:  # noqa: BLE001 - report every failure
            failures.append([where, statement, f"{type(exc).__name__}: {exc}"])
            continue
    moved = [
        str(w.message) for w in caught
        if issubclass(w.category, DeprecationWarning) and " moved to " in str(w.message)
    ]
    if moved:
        failures.append([where, statement, "old module path: " + "; ".join(moved)])
print(json.dumps(failures))
"""


def test_import_extraction_handles_blocks_and_multiline_statements() -> None:
    markdown = textwrap.dedent(
        """\
        ```python
        import os
        from pathlib import (
            Path,  # a comment (with parentheses)
            PurePath,
        )
        x = 1  # import nothing
            from json import dumps
        ```

        ```bash
        from not_python import x
        ```
        """
    )
    assert import_statements(markdown) == [
        "import os",
        "from pathlib import (\n    Path,  # a comment (with parentheses)\n    PurePath,\n)",
        "from json import dumps",
    ]


def test_documented_imports_work() -> None:
    statements = collect_imports()
    assert statements, "no import statement found in the docs' python blocks"
    result = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(statements),
        capture_output=True,
        text=True,
        cwd=ROOT / "docs",  # not the repository root: the installed package is what users import
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failures, f"{len(failures)} documented import(s) fail:\n" + "\n".join(
        f"  {where}: {statement!r}\n      {error}" for where, statement, error in failures
    )


# --------------------------------------------------------------------------------------------- (b) citations


def design_sections() -> dict[int, str]:
    """Section number -> its text, from the "## N. Title" headings of docs/design.md."""
    text = DESIGN.read_text(encoding="utf-8")
    matches = list(HEADING.finditer(text))
    return {
        int(m.group(1)): text[m.end() : matches[i + 1].start() if i + 1 < len(matches) else len(text)]
        for i, m in enumerate(matches)
    }


def citations(text: str) -> list[tuple[int, str]]:
    """(line number, "N" or "N.M") for every design citation in ``text``."""
    found = []
    consumed = 0  # end of the last chain: an anchor inside it ("…, docs/design.md §2") is not counted twice
    for anchor in ANCHOR.finditer(text):
        if anchor.start() < consumed:
            continue
        first = FIRST_CITE.match(text, anchor.end())
        if not first:
            continue  # "DESIGN preamble", "DESIGN example": no section number
        found.append((text.count("\n", 0, anchor.start()) + 1, first.group(1) + first.group(2)))
        position = first.end()
        while (more := MORE_CITE.match(text, position)) is not None:
            found.append((text.count("\n", 0, more.start(2)) + 1, more.group(2) + more.group(3)))
            position = more.end()
        consumed = position
    return found


def cited_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder, patterns in (
        ("pearbench", ("*.py", "*.toml")),
        ("envs", ("*.py",)),
        ("baselines", ("*.py", "*.toml")),
        ("docs", ("*.md",)),
        ("tests", ("*.py", "*.jsonl", "*.toml", "*.json", "*.md")),
        ("benchmarks", ("*.py", "*.md")),
    ):
        for pattern in patterns:
            files.extend(path for path in (ROOT / folder).rglob(pattern) if "__pycache__" not in path.parts)
    return sorted(set(files))


def test_design_has_sections_1_to_9_in_order() -> None:
    numbers = [int(n) for n in HEADING.findall(DESIGN.read_text(encoding="utf-8"))]
    assert numbers == list(range(1, 10)), f"docs/design.md '## N.' headings: {numbers}"


def test_citation_parser() -> None:
    text = (
        "DESIGN §3 (answer extraction), §4 (math track) and §6 (x)\n"
        "(DESIGN preamble) docs/design.md §1.3; §9 later"
    )
    assert [c for _, c in citations(text)] == ["3", "4", "6", "1.3", "9"]
    assert [c for _, c in citations("DESIGN §4/§6 and, much later in the same line, §7")] == ["4", "6"]
    # built from pieces: the repository scan below must not see these made-up section numbers
    assert [c for _, c in citations("DESIGN" + " §12 and docs/design.md" + " §1.9")] == ["12", "1.9"]


def test_every_design_citation_names_a_section() -> None:
    sections = design_sections()
    bad, count = [], 0
    for path in cited_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for line, cite in citations(text):
            count += 1
            number, _, item = cite.partition(".")
            where = f"{path.relative_to(ROOT)}:{line}: §{cite}"
            if int(number) not in sections:
                bad.append(f"{where} (docs/design.md has no '## {number}.' section)")
            elif item and not re.search(rf"^{item.split('.')[0]}\. ", sections[int(number)], re.MULTILINE):
                bad.append(f"{where} (section {number} has no numbered item {item})")
    assert count >= 30, f"only {count} design citations found; is the parser broken?"
    assert not bad, "citations of sections docs/design.md does not have:\n" + "\n".join(bad)


# ---------------------------------------------------------------------------------------- (c) no outside doc

# Built from pieces so that this file does not match itself.
OUTSIDE_DESIGN = ("../shared/" + "DESIGN.md", "shared/" + "DESIGN")
SKIP_DIRS = {".git", "__pycache__", "runs", "node_modules", "build", "dist"}


def repository_text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT).parts
        folders = relative[:-1]
        if any(part in SKIP_DIRS or part.startswith(".") or part.endswith(".egg-info") for part in folders):
            continue
        if path.is_file() and path.suffix not in {".png", ".pyc", ".parquet", ".safetensors", ".sqlite"}:
            if path.stat().st_size <= 5_000_000:
                files.append(path)
    return files


def test_no_file_points_to_the_design_document_outside_the_repository() -> None:
    bad = []
    for path in repository_text_files():
        text = path.read_text(encoding="utf-8", errors="ignore")
        for needle in OUTSIDE_DESIGN:
            if needle in text:
                line = text.count("\n", 0, text.index(needle)) + 1
                bad.append(f"{path.relative_to(ROOT)}:{line}: {needle!r} (cite docs/design.md instead)")
    assert not bad, "\n".join(bad)


def test_design_and_architecture_docs_stay_inside_the_repository() -> None:
    for name in ("design.md", "architecture.md"):
        text = (ROOT / "docs" / name).read_text(encoding="utf-8")
        assert "../" not in text, f"docs/{name} refers to a path outside the repository"
