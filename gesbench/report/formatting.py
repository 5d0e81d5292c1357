"""How numbers appear in report tables (and the README tables made from them): three
significant figures, infinite values named, intervals in brackets, LaTeX escaped."""

from __future__ import annotations

import math

import numpy as np

LATEX_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}  # fmt: skip


def number(value: float, digits: int = 2) -> str:
    """A value to ``digits`` significant figures, as the README's tables write them
    (0.0044, 9.1e-34, 3.6e+30); 'diverged' for +inf, '' for NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value == np.inf:
        return "diverged"
    if value == -np.inf:
        return "-inf"
    return f"{value:.{digits}g}"


def bound(value: float, digits: int = 2) -> str:
    """An interval bound: like :func:`number`, but '∞' for +inf."""
    return "∞" if value == np.inf else number(value, digits)


def interval(low: float, high: float, digits: int = 2) -> str:
    """``[low, high]``."""
    return f"[{bound(low, digits)}, {bound(high, digits)}]"


def with_interval(value: float, low: float, high: float, digits: int = 2) -> str:
    """``value [low, high]`` ('diverged' alone when the value is infinite)."""
    if value == np.inf:
        return "diverged"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{number(value, digits)} {interval(low, high, digits)}"


def pvalue(p: float) -> str:
    """A p-value to 2 significant figures ('' when no test ran)."""
    return "" if p is None or (isinstance(p, float) and math.isnan(p)) else f"{p:.2g}"


def latex(text: str) -> str:
    """Text with LaTeX's special characters escaped; ∞, ↓ and ↑ as math symbols."""
    out = "".join(LATEX_SPECIAL.get(ch, ch) for ch in text)
    return out.replace("∞", r"$\infty$").replace("↓", r"$\downarrow$").replace("↑", r"$\uparrow$")


def latex_table(
    columns: list[str], rows: list[list[str]], bold: set[tuple[int, int]], caption: str
) -> str:
    """A standalone ``tabular`` (no packages needed) with the ``bold`` cells in \\textbf."""
    spec = "l" + "l" * (len(columns) - 1)
    lines = [
        "% " + caption.replace("\n", " "),
        f"\\begin{{tabular}}{{{spec}}}",
        "\\hline",
        " & ".join(latex(c) for c in columns) + r" \\",
        "\\hline",
    ]
    for i, row in enumerate(rows):
        cells = [
            f"\\textbf{{{latex(v)}}}" if (i, j) in bold and v else latex(v)
            for j, v in enumerate(row)
        ]
        lines.append(" & ".join(cells) + r" \\")
    lines += ["\\hline", "\\end{tabular}", ""]
    return "\n".join(lines)
