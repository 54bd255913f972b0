"""Leaderboards as one self-contained HTML page: inline CSS, plots as base64 PNG, every text from the records
HTML-escaped, and a Content-Security-Policy that forbids scripts and any external resource."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence

from pearbench.results.model import Leaderboard
from pearbench.results.tables import (
    COLUMNS,
    HELDOUT_COLUMNS,
    REFERENCE_COLUMNS,
    RL_GAIN_COLUMNS,
    RL_GAIN_TITLE,
    heldout_rows,
    legend,
    method_cells,
    reference_cells,
    rl_gain_cells,
    rl_gain_legend,
    tau_text,
)

MAX_EXAMPLE_CHARS = 4000

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1a1a1a; max-width: 90em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f2f2f2; }
td.method, td.model { text-align: left; font-weight: 600; }
table.rl-gain td:nth-child(5), table.rl-gain td:nth-child(7) { text-align: left; }
.legend, .notes { font-size: 0.85em; color: #444; }
figure { display: inline-block; margin: 1em 1em 1em 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
.example { border: 1px solid #ddd; margin: 0.8em 0; padding: 0.5em; }
.example pre { white-space: pre-wrap; word-break: break-word; background: #f8f8f8; padding: 0.4em; margin: 0.3em 0; }
.correct { color: #176b1f; } .incorrect { color: #a11; }
""".strip()
PAGE_TITLE = "pearbench leaderboard"


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _clip(text: str) -> str:
    if len(text) <= MAX_EXAMPLE_CHARS:
        return text
    return text[:MAX_EXAMPLE_CHARS] + f"… [{len(text) - MAX_EXAMPLE_CHARS} more characters]"


def _html_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], css_class: str, first_col: int
) -> list[str]:
    lines = [
        '<div class="scroll">',
        f'<table class="{css_class}">',
        "<thead><tr>" + "".join(f"<th>{_h(h)}</th>" for h in header) + "</tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        cells = "".join(
            f'<td class="{"model" if css_class == "reference" else "method"}">{_h(c)}</td>'
            if i == first_col
            else f"<td>{_h(c)}</td>"
            for i, c in enumerate(row)
        )
        lines.append(f"<tr>{cells}</tr>")
    lines += ["</tbody>", "</table>", "</div>"]
    return lines


def render_html(
    boards: Sequence[Leaderboard], images: Mapping[str, Sequence[tuple[str, bytes]]] | None = None
) -> str:
    """A self-contained HTML page: inline CSS, plots as base64 PNG, every text from records HTML-escaped.

    ``images`` maps a suite to (caption, PNG bytes) pairs. A Content-Security-Policy forbids scripts and any
    external resource, as a second line of defence behind the escaping.
    """
    images = images or {}
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        f"<title>{PAGE_TITLE}</title>",
        f"<style>\n{_CSS}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{PAGE_TITLE}</h1>",
    ]
    for board in boards:
        lines += [
            f'<section class="suite" id="suite-{_h(board.suite)}">',
            f"<h2>{_h(board.suite)} (profile {_h(board.profile)})</h2>",
        ]
        lines += _html_table(COLUMNS, [method_cells(row) for row in board.rows], "leaderboard", first_col=2)
        lines.append(f'<p class="tau">{_h(tau_text(board))}.</p>')
        lines += ['<ul class="legend">'] + [f"<li>{_h(item)}</li>" for item in legend(board)] + ["</ul>"]
        gain_rows = [rl_gain_cells(row) for row in board.rows if row.rl_gain is not None]
        if gain_rows:
            lines.append(f"<h3>{_h(RL_GAIN_TITLE)}</h3>")
            lines += _html_table(RL_GAIN_COLUMNS, gain_rows, "rl-gain", first_col=0)
            lines += (
                ['<ul class="legend">'] + [f"<li>{_h(item)}</li>" for item in rl_gain_legend()] + ["</ul>"]
            )
        if board.references:
            lines.append("<h3>Reference models</h3>")
            lines += _html_table(
                REFERENCE_COLUMNS, [reference_cells(r) for r in board.references], "reference", first_col=0
            )
        for name in board.heldout_sets:
            lines.append(f"<h3>Held-out set {_h(name)}</h3>")
            lines += _html_table(HELDOUT_COLUMNS, heldout_rows(board, name), "reference", first_col=0)
        if board.notes:
            lines += ['<p class="notes">Notes:</p>', '<ul class="notes">']
            lines += [f"<li>{_h(note)}</li>" for note in board.notes] + ["</ul>"]
        for caption, png in images.get(board.suite, ()):
            encoded = base64.b64encode(png).decode("ascii")
            lines.append(
                f'<figure><img alt="{_h(caption)}" src="data:image/png;base64,{encoded}"><figcaption>{_h(caption)}</figcaption></figure>'
            )
        if board.examples:
            lines.append("<h3>Example completions (model output, shown as text)</h3>")
            for example in board.examples:
                verdict = "correct" if example.correct else "incorrect"
                lines += [
                    '<div class="example">',
                    f'<p class="meta">{_h(example.method_label)}, seed {example.seed}, {_h(example.stage)}, problem '
                    f'{_h(example.problem_id)}: <span class="{verdict}">{verdict}</span></p>',
                    f'<pre class="prompt">{_h(_clip(example.prompt))}</pre>',
                    f'<pre class="completion">{_h(_clip(example.completion))}</pre>',
                    "</div>",
                ]
        lines.append("</section>")
    lines += ["</body>", "</html>"]
    return "\n".join(lines) + "\n"
