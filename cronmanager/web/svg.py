"""Small server-rendered SVG charts: no script, no styles (the page's CSP allows neither inline), only
presentation attributes, so they render in any browser and in tests as plain markup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 600, 160, 28
STATUS_FILL = {"SUCCESS": "#16a34a", "FAILED": "#dc2626", "SKIPPED": "#94a3b8", "MISSED": "#f59e0b"}


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[int | None]  # one per x position; None leaves a gap
    colour: str


def _ms(value: int) -> str:
    return f"{value} ms" if value < 1000 else f"{value / 1000:.1f} s"


def line_chart(title: str, xs: Sequence[datetime], series: Sequence[Series]) -> Markup:
    """One line per series over the days in `xs`, a y-axis from zero to the largest value, a legend."""
    top = max([v for s in series for v in s.values if v is not None] or [1]) or 1
    step = (WIDTH - 2 * PAD) / max(1, len(xs) - 1)

    def point(i: int, v: int) -> str:
        return f"{PAD + i * step:.1f},{HEIGHT - PAD - (HEIGHT - 2 * PAD) * v / top:.1f}"

    parts = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg" data-chart="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#cbd5e1"/>',
             f'<text x="2" y="{PAD - 8}" font-size="10" fill="#64748b">{escape(_ms(top))}</text>',
             f'<text x="{PAD}" y="{HEIGHT - 8}" font-size="10" fill="#64748b">{xs[0]:%b %d}</text>' if xs else "",
             f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" font-size="10" fill="#64748b" text-anchor="end">'
             f'{xs[-1]:%b %d}</text>' if xs else ""]
    for n, s in enumerate(series):
        runs: list[list[str]] = [[]]
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(point(i, v))
        for run in runs:
            if len(run) == 1:
                x, y = run[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{s.colour}"/>')
            elif run:
                parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{s.colour}" stroke-width="2"/>')
        parts.append(f'<text x="{WIDTH - PAD - 120 * (len(series) - n) + 10}" y="{PAD - 8}" font-size="10" '
                     f'fill="{s.colour}">{escape(s.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Cell:
    status: str
    title: str
    href: str


def strip(cells: Sequence[Cell], size: int = 20) -> Markup:
    """One coloured cell per run, oldest on the left; empty places stay grey outlines."""
    w, gap, h = 7, 2, 14
    parts = [f'<svg viewBox="0 0 {size * (w + gap)} {h}" width="{size * (w + gap)}" height="{h}" role="img" '
             f'aria-label="last {len(cells)} runs" xmlns="http://www.w3.org/2000/svg" data-strip>']
    offset = size - len(cells)
    for i in range(offset):
        parts.append(f'<rect x="{i * (w + gap)}" y="0" width="{w}" height="{h}" fill="none" stroke="#e2e8f0"/>')
    for i, c in enumerate(cells):
        fill = STATUS_FILL.get(c.status, "#cbd5e1")
        parts.append(f'<a href="{escape(c.href)}"><rect x="{(offset + i) * (w + gap)}" y="0" width="{w}" '
                     f'height="{h}" rx="1" fill="{fill}" data-status="{escape(c.status)}"><title>{escape(c.title)}'
                     f'</title></rect></a>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(title: str, values: Sequence[int], labels: Sequence[str]) -> Markup:
    """A small bar per value (e.g. requests per day), each with its label as a tooltip."""
    w, gap, h = 4, 1, 20
    top = max(values or [1]) or 1
    parts = [f'<svg viewBox="0 0 {len(values) * (w + gap)} {h}" width="{len(values) * (w + gap)}" height="{h}" '
             f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" data-bars>']
    for i, (v, label) in enumerate(zip(values, labels, strict=True)):
        bar = max(1, round(h * v / top)) if v else 0
        parts.append(f'<rect x="{i * (w + gap)}" y="{h - bar}" width="{w}" height="{bar or 1}" '
                     f'fill="{"#6366f1" if v else "#e2e8f0"}"><title>{escape(label)}: {v}</title></rect>')
    parts.append("</svg>")
    return Markup("".join(parts))
