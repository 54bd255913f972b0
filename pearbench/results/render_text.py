"""Leaderboards as text: Markdown (the committed tables), CSV (one line per method, reference model and held-out
set) and LaTeX (``table`` environments, the legend as the caption). Byte-stable: the same boards give the same text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from pearbench.results.model import DIAGNOSTIC_COLUMNS, HEADLINE_KS, Leaderboard
from pearbench.results.tables import (
    COLUMNS,
    HELDOUT_COLUMNS,
    REFERENCE_COLUMNS,
    RL_GAIN_COLUMNS,
    RL_GAIN_TITLE,
    fmt,
    fmt_signed,
    heldout_rows,
    legend,
    method_cells,
    reference_cells,
    rl_gain_cells,
    rl_gain_legend,
    tau_text,
)


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], text_column: int, *, more_text: Sequence[int] = ()
) -> list[str]:
    """A Markdown table, numbers right-aligned; ``text_column`` and ``more_text`` left-aligned."""
    text = {text_column, *more_text}
    align = ["---" if i in text else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_md_escape(h) for h in header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


def render_markdown(boards: Sequence[Leaderboard]) -> str:
    """Markdown: per suite a heading, the table, Kendall's τ-b, the legend, reference models and notes."""
    parts = []
    for board in boards:
        lines = [f"## {_md_escape(board.suite)} (profile {_md_escape(board.profile)})", ""]
        lines += _md_table(COLUMNS, [method_cells(row) for row in board.rows], text_column=2)
        lines += ["", tau_text(board) + ".", ""]
        lines += [f"- {_md_escape(item)}" for item in legend(board)]
        gain_rows = [rl_gain_cells(row) for row in board.rows if row.rl_gain is not None]
        if gain_rows:
            lines += ["", f"{RL_GAIN_TITLE}:", ""]
            lines += _md_table(RL_GAIN_COLUMNS, gain_rows, text_column=0, more_text=(4, 6))
            lines += [""] + [f"- {_md_escape(item)}" for item in rl_gain_legend()]
        if board.references:
            lines += ["", "Reference models (evaluated once per suite, no SFT or RL stage):", ""]
            lines += _md_table(
                REFERENCE_COLUMNS, [reference_cells(r) for r in board.references], text_column=0
            )
        shown = [c for c, _, _ in DIAGNOSTIC_COLUMNS if any(c in row.diagnostics for row in board.rows)]
        if shown:
            lines += ["", "Training diagnostics (means over seeds; — where a method has none):", ""]
            lines += _md_table(
                ("method", "mismatch (mean log π₀ − log π_β)", *shown),
                [
                    [row.method_label, fmt_signed(row.mismatch)]
                    + [fmt(row.diagnostics[c]) if c in row.diagnostics else "—" for c in shown]
                    for row in board.rows
                ],
                text_column=0,
            )
        for name in board.heldout_sets:
            lines += [
                "",
                f"Held-out set {_md_escape(name)}: pass@k after SFT and after RL (seed-averaged per problem, 95% "
                "bootstrap CI over problems):",
                "",
            ]
            lines += _md_table(HELDOUT_COLUMNS, heldout_rows(board, name), text_column=0)
        if board.notes:
            lines += ["", "Notes:", ""] + [f"- {_md_escape(note)}" for note in board.notes]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)


def _num(value: float | None) -> str:
    return "" if value is None else fmt(value)


RL_GAIN_CSV = ("rl_gain_pass@1", "rl_gain_pass@1_low", "rl_gain_pass@1_high", "p_rl_gain_pass@1")


def render_csv(boards: Sequence[Leaderboard]) -> str:
    """CSV, one line per method or reference model; numbers with 3 decimals, value/low/high in separate columns."""
    header = ["suite", "profile", "kind", "method_label", "method", "sft_steps_factor", "seeds", "problems"]
    header += ["rank_sft", "rank_rl"]
    for stage in ("sft", "rl"):
        for k in HEADLINE_KS:
            header += [f"{stage}_pass@{k}", f"{stage}_pass@{k}_low", f"{stage}_pass@{k}_high"]
    for k in HEADLINE_KS:
        header += [
            f"diff_pass@{k}",
            f"diff_pass@{k}_low",
            f"diff_pass@{k}_high",
            f"p_pass@{k}",
            f"paired_problems@{k}",
        ]
    header += ["errors_sft", "errors_rl", "mismatch_mean_log_ratio", "kendall_tau_b"]
    header += ["kendall_tau_b_low", "kendall_tau_b_high"]
    # the RL gain (pass@1 after RL minus after SFT) of method lines; per-seed gains space-separated in seed order
    header += [*RL_GAIN_CSV, "rl_gain_per_seed", "rl_gain_seeds_gained"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for board in boards:
        tau = "" if board.kendall_tau is None else fmt(board.kendall_tau)
        ci = board.kendall_tau_ci if board.kendall_tau is not None else None
        tau_ci = ["", ""] if ci is None else [fmt(ci[0]), fmt(ci[1])]
        for row in board.rows:
            line: list[str] = [board.suite, board.profile, "method", row.method_label, row.method]
            line += [f"{row.sft_steps_factor:g}", " ".join(str(s) for s in row.seeds), str(row.n_problems)]
            line += [
                "" if row.rank_sft is None else str(row.rank_sft),
                "" if row.rank_rl is None else str(row.rank_rl),
            ]
            for stage in (row.sft, row.rl):
                for k in HEADLINE_KS:
                    est = stage.get(k)
                    line += [_num(est and est.value), _num(est and est.low), _num(est and est.high)]
            for k in HEADLINE_KS:
                comp = row.vs_sft.get(k)
                if comp is None:
                    line += ["", "", "", "", ""]
                else:
                    line += [
                        fmt(comp.diff),
                        fmt(comp.low),
                        fmt(comp.high),
                        fmt(comp.p_value),
                        str(comp.n_problems),
                    ]
            line += [str(row.errors_sft), str(row.errors_rl), fmt(row.mismatch), tau, *tau_ci]
            gain = row.rl_gain
            if gain is None:
                line += [""] * len(RL_GAIN_CSV)
            else:
                line += [fmt(gain.diff), fmt(gain.low), fmt(gain.high), fmt(gain.p_value)]
            line += [" ".join(fmt(g) for g in row.rl_gain_per_seed)]
            line += [str(row.seeds_gained) if row.rl_gain_per_seed else ""]
            writer.writerow(line)
        for ref in board.references:
            line = [
                board.suite,
                board.profile,
                "reference",
                ref.name,
                ref.name,
                "",
                "",
                str(ref.n_problems),
                "",
                "",
            ]
            # a reference model has no SFT or RL stage: its scores go in the sft_* columns, rl_* stay empty
            for k in HEADLINE_KS:
                est = ref.metrics.get(k)
                line += [_num(est and est.value), _num(est and est.low), _num(est and est.high)]
            line += [""] * (3 * len(HEADLINE_KS) + 5 * len(HEADLINE_KS))
            line += [str(ref.errors), "", "", tau, *tau_ci]
            line += [""] * (len(RL_GAIN_CSV) + 2)
            writer.writerow(line)
        for name in board.heldout_sets:
            # one line per method and held-out set: kind "heldout:<set>", its pass@k in the sft_*/rl_* columns
            for row in board.rows:
                if name not in row.heldout:
                    continue
                line = [board.suite, board.profile, f"heldout:{name}", row.method_label, row.method]
                line += [f"{row.sft_steps_factor:g}", " ".join(str(s) for s in row.seeds)]
                line += [str(row.heldout_problems[name]), "", ""]
                for stage in ("sft", "rl"):
                    for k in HEADLINE_KS:
                        est = row.heldout[name][stage].get(k)
                        line += [_num(est and est.value), _num(est and est.low), _num(est and est.high)]
                line += [""] * (5 * len(HEADLINE_KS)) + ["", "", "", tau, *tau_ci]
                line += [""] * (len(RL_GAIN_CSV) + 2)
                writer.writerow(line)
    return buffer.getvalue()


_TEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "Δ": r"$\Delta$",
    "τ": r"$\tau$",
    "π": r"$\pi$",
    "β": r"$\beta$",
    "₀": r"$_0$",
    "—": "---",
    "−": "$-$",
}


def tex_escape(text: str) -> str:
    """Escape LaTeX special characters (and map the few non-ASCII symbols pearbench itself writes)."""
    return "".join(_TEX_SPECIAL.get(ch, ch) for ch in text)


def render_latex(boards: Sequence[Leaderboard]) -> str:
    """LaTeX ``table`` environments (needs ``\\usepackage{booktabs}``); the legend is the caption."""
    parts = []
    for board in boards:
        lines = [
            f"% pearbench leaderboard: suite {board.suite}, profile {board.profile}. Needs \\usepackage{{booktabs}}.",
            r"\begin{table}[t]",
            r"\centering",
            r"\scriptsize",
            r"\begin{tabular}{rrlrr" + "l" * 8 + "r}",
            r"\toprule",
            " & ".join(tex_escape(c) for c in COLUMNS) + r" \\",
            r"\midrule",
        ]
        lines += [" & ".join(tex_escape(c) for c in method_cells(row)) + r" \\" for row in board.rows]
        lines += [r"\bottomrule", r"\end{tabular}"]
        gain_rows = [rl_gain_cells(row) for row in board.rows if row.rl_gain is not None]
        if gain_rows:
            lines += [
                r"\par\medskip",
                r"\begin{tabular}{lrlrlrl}",
                r"\toprule",
                " & ".join(tex_escape(c) for c in RL_GAIN_COLUMNS) + r" \\",
                r"\midrule",
            ]
            lines += [" & ".join(tex_escape(c) for c in cells) + r" \\" for cells in gain_rows]
            lines += [r"\bottomrule", r"\end{tabular}"]
        if board.references:
            lines += [
                r"\par\medskip",
                r"\begin{tabular}{lrrllr}",
                r"\toprule",
                " & ".join(tex_escape(c) for c in REFERENCE_COLUMNS) + r" \\",
                r"\midrule",
            ]
            lines += [
                " & ".join(tex_escape(c) for c in reference_cells(r)) + r" \\" for r in board.references
            ]
            lines += [r"\bottomrule", r"\end{tabular}"]
        caption = [f"Leaderboard for suite {board.suite} (profile {board.profile}).", tau_text(board) + "."]
        caption += legend(board)
        if gain_rows:
            caption += [f"Second table: {RL_GAIN_TITLE}.", *rl_gain_legend()]
        caption += [f"Note: {note}." for note in board.notes]
        lines += [
            r"\caption{" + tex_escape(" ".join(caption)) + "}",
            rf"\label{{tab:pearbench-{board.suite}}}",
            r"\end{table}",
        ]
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
