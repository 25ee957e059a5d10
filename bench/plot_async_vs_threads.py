#!/usr/bin/env python3
"""Draws docs/async-vs-threads.svg from docs/async-vs-threads.csv (no plotting library).

Two panels over concurrent connections (log scale): requests/s, and peak RSS (log scale).
One colour per mode; solid lines for the all_active scenario, dashed for 50_active.
Usage: plot_async_vs_threads.py CSV SVG
"""

import csv
import math
import sys

W, H = 1000, 450
PANEL_W, PANEL_H = 380, 280
MARGIN_L, MARGIN_T = 80, 70
GAP = 100
COLORS = {"async": "#1f77b4", "threads": "#d62728"}
LABELS = {"async": "async (tokio tasks)", "threads": "thread per connection"}
DASHES = {"all_active": "", "50_active": "7,4"}
SCENARIO_LABELS = {"all_active": "all connections active", "50_active": "50 active, the rest idle"}


def nice_ticks(lo, hi, n=5):
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    start = math.floor(lo / step) * step
    ticks, t = [], start
    while t <= hi + 1e-9:
        if t >= lo - 1e-9:
            ticks.append(t)
        t += step
    return ticks


def human(v):
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            s = f"{v / div:.1f}".rstrip("0").rstrip(".")
            return s + unit
    return f"{v:g}"


def panel(out, x0, title, ylabel, series, xs, ylog):
    """series: {(scenario, mode): [(x, y)]}; xs: connection counts (log axis)."""
    lx = [math.log10(x) for x in xs]
    xmin, xmax = min(lx) - 0.15, max(lx) + 0.15
    ys = [y for pts in series.values() for _, y in pts if y > 0]
    if ylog:
        ymin = math.floor(math.log10(min(ys)))
        ymax = math.ceil(math.log10(max(ys)))
        yticks = [10**e for e in range(ymin, ymax + 1)]
        fy = lambda y: (math.log10(y) - ymin) / (ymax - ymin)
    else:
        top = max(ys) * 1.1
        yticks = nice_ticks(0, top)
        top = max(top, yticks[-1])
        fy = lambda y: y / top
    px = lambda x: x0 + (math.log10(x) - xmin) / (xmax - xmin) * PANEL_W
    py = lambda y: MARGIN_T + PANEL_H - fy(y) * PANEL_H

    out.append(f'<text x="{x0 + PANEL_W / 2}" y="{MARGIN_T - 14}" class="title">{title}</text>')
    out.append(
        f'<rect x="{x0}" y="{MARGIN_T}" width="{PANEL_W}" height="{PANEL_H}" class="frame"/>'
    )
    for t in yticks:
        y = py(t)
        out.append(f'<line x1="{x0}" x2="{x0 + PANEL_W}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        out.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" class="ytick">{human(t)}</text>')
    for x in xs:
        X = px(x)
        out.append(
            f'<line x1="{X:.1f}" x2="{X:.1f}" y1="{MARGIN_T}" y2="{MARGIN_T + PANEL_H}" class="grid"/>'
        )
        out.append(f'<text x="{X:.1f}" y="{MARGIN_T + PANEL_H + 18}" class="xtick">{x:,}</text>')
    out.append(
        f'<text x="{x0 + PANEL_W / 2}" y="{MARGIN_T + PANEL_H + 40}" class="axis">'
        "concurrent connections</text>"
    )
    cy = MARGIN_T + PANEL_H / 2
    out.append(
        f'<text x="{x0 - 58}" y="{cy}" class="axis" transform="rotate(-90 {x0 - 58} {cy})">'
        f"{ylabel}</text>"
    )
    for (scenario, mode), pts in series.items():
        pts = [(x, y) for x, y in pts if y > 0]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        dash = DASHES.get(scenario, "")
        dash = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(
            f'<polyline points="{path}" fill="none" stroke="{COLORS[mode]}" stroke-width="2.5"{dash}/>'
        )
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{COLORS[mode]}"/>')


def main():
    src, dst = sys.argv[1], sys.argv[2]
    rows = list(csv.DictReader(open(src)))
    modes = [m for m in ("async", "threads") if any(r["mode"] == m for r in rows)]
    scenarios = list(dict.fromkeys(r.get("scenario", "all_active") for r in rows))
    xs = sorted({int(r["connections"]) for r in rows})

    def series(value):
        out = {}
        for sc in scenarios:
            for m in modes:
                pts = [
                    (int(r["connections"]), value(r))
                    for r in rows
                    if r["mode"] == m and r.get("scenario", "all_active") == sc
                ]
                if pts:
                    out[(sc, m)] = sorted(pts)
        return out

    rps = series(lambda r: float(r["requests_per_s"]))
    rss = series(lambda r: int(r["peak_rss_kb"]) / 1024)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="sans-serif">',
        "<style>.title{font-size:15px;font-weight:bold;text-anchor:middle}"
        ".axis{font-size:12px;text-anchor:middle}.xtick{font-size:11px;text-anchor:middle}"
        ".ytick{font-size:11px;text-anchor:end}.frame{fill:none;stroke:#444}"
        ".grid{stroke:#ddd;stroke-width:1}.legend{font-size:12px}</style>",
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="24" class="title">framesim-server: async vs thread per connection '
        "(redis-benchmark GET, P=1, 2 cores)</text>",
    ]
    panel(out, MARGIN_L, "throughput", "requests / s", rps, xs, ylog=False)
    panel(out, MARGIN_L + PANEL_W + GAP, "peak RSS", "MiB (log)", rss, xs, ylog=True)
    y = H - 14
    for i, m in enumerate(modes):
        x = MARGIN_L + 10 + i * 200
        out.append(f'<line x1="{x}" x2="{x + 26}" y1="{y - 4}" y2="{y - 4}" stroke="{COLORS[m]}" stroke-width="3"/>')
        out.append(f'<text x="{x + 32}" y="{y}" class="legend">{LABELS[m]}</text>')
    for i, sc in enumerate(scenarios):
        x = MARGIN_L + 10 + (len(modes) + i) * 200
        dash = DASHES.get(sc, "")
        dash = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<line x1="{x}" x2="{x + 26}" y1="{y - 4}" y2="{y - 4}" stroke="#444" stroke-width="2.5"{dash}/>')
        out.append(f'<text x="{x + 32}" y="{y}" class="legend">{SCENARIO_LABELS.get(sc, sc)}</text>')
    out.append("</svg>")
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
