"""Charts drawn with pygal, rendered as SVG on the server and inlined in the page, so they
show without JavaScript (pygal's tooltip script is not loaded: `js=[]`).

Drawing one costs tens of milliseconds, more than the rest of a project page, while the
figures behind it change only when money moves (an approval, a commitment). So each SVG is
kept per process, keyed by exactly the values it plots: the same figures give the same
picture, whoever asks (nothing else goes into it), and new figures a new one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

STYLE = Style(
    background="white", plot_background="white", foreground="#1d2430",
    foreground_strong="#1d2430", foreground_subtle="#8a93a3",
    colors=("#8a93a3", "#1f5fa8", "#c62828", "#2e7d32", "#b26a00"),
    font_family="system-ui, sans-serif", label_font_size=11, major_label_font_size=11,
    legend_font_size=12, title_font_size=14,
)
_COMMON: dict[str, Any] = dict(style=STYLE, js=[], disable_xml_declaration=True, height=340,
                               width=760, legend_at_bottom=True, print_values=False,
                               explicit_size=False)


# pygal writes its settings for the (unloaded) tooltip script into an inline <script>
# even with js=[]; the page's CSP refuses inline script, so it is dropped here rather
# than left to fill the browser's console with refusals.
_CONFIG_SCRIPT = re.compile(r"<script[^>]*>.*?</script>", re.S)


def _svg(chart: Any) -> Markup:
    return Markup(_CONFIG_SCRIPT.sub("", chart.render(is_unicode=True)))


# Charts kept per process (each a few tens of KB): enough for every project's two.
CACHED_CHARTS = 256


def s_curve(points: Sequence[Any], currency: str) -> Markup:
    """Planned value, earned value and actual cost at each month end."""
    return _s_curve(currency, tuple((p.as_of.isoformat(), float(p.pv), float(p.ev), float(p.ac))
                                    for p in points))


@lru_cache(maxsize=CACHED_CHARTS)
def _s_curve(currency: str, points: tuple[tuple[str, float, float, float], ...]) -> Markup:
    chart = pygal.Line(title=f"S-curve: PV, EV and AC ({currency})", x_label_rotation=30,
                       show_dots=len(points) <= 24, dots_size=2, show_minor_x_labels=False,
                       **_COMMON)
    chart.x_labels = [p[0] for p in points]
    chart.x_labels_major_count = 12
    chart.value_formatter = lambda v: f"{v:,.0f}"
    for index, label in enumerate(("PV (planned)", "EV (earned)", "AC (actual)"), start=1):
        chart.add(label, [p[index] for p in points])
    return _svg(chart)


def budget_by_line(lines: Sequence[Any], currency: str) -> Markup:
    """Per line: current budget, committed, spent and available."""
    return _budget_by_line(currency, tuple(
        (f"{b.line}", float(b.current), float(b.committed), float(b.spent), float(b.available))
        for b in lines))


@lru_cache(maxsize=CACHED_CHARTS)
def _budget_by_line(currency: str, lines: tuple[tuple[str, float, float, float, float], ...]) -> Markup:
    chart = pygal.Bar(title=f"Budget by line ({currency})", x_label_rotation=30, **_COMMON)
    chart.x_labels = [line[0] for line in lines]
    chart.value_formatter = lambda v: f"{v:,.0f}"
    for index, label in enumerate(("Budget", "Committed", "Spent", "Available"), start=1):
        chart.add(label, [line[index] for line in lines])
    return _svg(chart)
