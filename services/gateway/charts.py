"""Small inline SVG bar charts for the public pages: no JavaScript, no
plotting library, readable on a phone (the SVG scales to the page width)."""

from markupsafe import Markup, escape

from services.common.french import french_score

PALETTE = ("#1b5e9b", "#2e86c1", "#48a9a6", "#7cb518", "#f4a261", "#e76f51", "#8d6cab")


def _fmt(value):
    if isinstance(value, float):  # a share or a mean: French decimal comma
        return f"{value:,.1f}".replace(",", "\u202f").replace(".", ",")
    return f"{value:,}".replace(",", "\u202f")  # French thousands separator


def vertical_bars(items, title, unit=""):
    """`items`: [(label, value)]; one column per item."""
    width, height, top, bottom = 320, 200, 24, 28
    n = max(len(items), 1)
    slot = width / n
    peak = max([value for _, value in items] + [1])
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for index, (label, value) in enumerate(items):
        bar = (height - top - bottom) * value / peak
        x = index * slot + slot * 0.15
        y = height - bottom - bar
        parts.append(
            f'<g class="bar"><rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{bar:.1f}" '
            f'fill="{PALETTE[index % len(PALETTE)]}" rx="3">'
            f"<title>{escape(label)} : {value}{unit}</title></rect>"
            f'<text x="{x + slot * 0.35:.1f}" y="{y - 6:.1f}" text-anchor="middle" font-size="13">'
            f"{_fmt(value)}</text>"
            f'<text x="{x + slot * 0.35:.1f}" y="{height - 8}" text-anchor="middle" font-size="13">'
            f"{escape(label)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(items, title, unit=""):
    """`items`: [(label, value)]; one row per item, the label above its bar."""
    width, row = 320, 34
    height = max(len(items), 1) * row + 4
    peak = max([value for _, value in items] + [1])
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for index, (label, value) in enumerate(items):
        y = index * row + 2
        bar = max((width - 50) * value / peak, 1 if value else 0)
        parts.append(
            f'<g class="bar"><text x="0" y="{y + 11}" font-size="12">{escape(label)}</text>'
            f'<rect x="0" y="{y + 15}" width="{bar:.1f}" height="14" rx="3" '
            f'fill="{PALETTE[index % len(PALETTE)]}">'
            f"<title>{escape(label)} : {_fmt(value)}{unit}</title></rect>"
            f'<text x="{bar + 6:.1f}" y="{y + 27}" font-size="12">{_fmt(value)}{unit}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def paired_bars(items, title, first, second, peak):
    """`items`: [(label, value, other)]: per row two bars on a 0..`peak` scale,
    `first` and `second` naming them (a legend; a None value draws no bar and
    reads "n. a."). The figures are also printed, and pages give them in a table."""
    width, row = 640, 52
    height = max(len(items), 1) * row + 30
    span = width - 60
    colours = (PALETTE[0], "#c0641f")
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>',
        f'<g class="legend" font-size="14"><rect x="0" y="4" width="14" height="14" fill="{colours[0]}"/>'
        f'<text x="20" y="16">{escape(first)}</text>'
        f'<rect x="{width / 2:.0f}" y="4" width="14" height="14" fill="{colours[1]}"/>'
        f'<text x="{width / 2 + 20:.0f}" y="16">{escape(second)}</text></g>',
    ]
    for index, (label, value, other) in enumerate(items):
        y = index * row + 30
        parts.append(f'<g class="bar"><text x="0" y="{y + 12}" font-size="14">{escape(label)}</text>')
        pairs = ((first, value, colours[0]), (second, other, colours[1]))
        for offset, (name, number, colour) in enumerate(pairs):
            bar = 0 if number is None else max(span * number / peak, 1 if number else 0)
            shown = french_score(number)
            top = y + 18 + offset * 15
            parts.append(
                f'<rect x="0" y="{top}" width="{bar:.1f}" height="12" rx="2" fill="{colour}">'
                f"<title>{escape(label)}, {escape(name)} : {shown}</title></rect>"
                f'<text x="{bar + 6:.1f}" y="{top + 11}" font-size="13">{shown}</text>'
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
