"""Small HTML pieces for Jupyter's rich display (``_repr_html_``) of digitlab's objects.

Every object renders from plain values through these functions, so escaping lives in one place:
every value that reaches the page goes through :func:`esc` (dataset, class, run and parameter
names are user data: a class named ``<script>`` must show as text). Inline styles only: a
notebook that is not trusted drops ``<style>`` and ``<script>``, but keeps ``style=``.
Hand-written rather than Jinja2: a display is a handful of tables, and importing Jinja2 in every
notebook cell that shows a Run would cost more than the strings do.
"""

from __future__ import annotations

import base64
import html
import io
import math

MAX_PNG_BYTES = 30_000  # an inline image in a saved notebook stays small
_BOX = ("font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;line-height:1.35;"
        "border-left:3px solid #4a76a8;padding:4px 10px;margin:4px 0")
_TD = "padding:1px 8px;text-align:right;border:none"
_TH = "padding:1px 8px;text-align:left;font-weight:600;border:none"


def esc(value) -> str:
    """*value* as HTML text (quotes included, for attribute values)."""
    return html.escape(str(value), quote=True)


def num(value, digits: int = 4) -> str:
    """A score for a table: ``0.9504``; ``–`` for a missing or NaN value; ints with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return esc(value)


def card(title: str, *parts: str, kind: str = "digitlab") -> str:
    """One display: a bold title line, then *parts* (already HTML)."""
    body = "".join(p for p in parts if p)
    return (f'<div class="{esc(kind)}" style="{_BOX}"><div style="font-weight:700;margin-bottom:3px">'
            f"{esc(title)}</div>{body}</div>")


def facts(pairs) -> str:
    """A two-column table of ``(name, value)``; values are escaped here, names too."""
    rows = "".join(f'<tr><th style="{_TH}">{esc(k)}</th><td style="{_TD};text-align:left">{esc(v)}</td></tr>'
                   for k, v in pairs if v is not None and v != "")
    return f'<table style="border-collapse:collapse;margin:2px 0">{rows}</table>'


def table(columns, rows, *, caption: str | None = None, raw_cells: bool = False) -> str:
    """A table; cells are formatted with :func:`num` (strings escaped) unless *raw_cells*."""
    head = "".join(f'<th style="{_TH}">{esc(c)}</th>' for c in columns)
    # the first column names the row: left-aligned like the headers; numbers to the right
    body = "".join("<tr>" + "".join(f'<td style="{_TD}{";text-align:left" if i == 0 else ""}">'
                                    f"{c if raw_cells else num(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                   for row in rows)
    cap = f'<caption style="text-align:left;font-style:italic">{esc(caption)}</caption>' if caption else ""
    return f'<table style="border-collapse:collapse;margin:4px 0">{cap}<tr>{head}</tr>{body}</table>'


def confusion(matrix, classes, *, caption: str | None = None) -> str:
    """A confusion matrix (rows true, columns predicted), cells shaded by their share of the row."""
    head = "".join(f'<th style="{_TH};text-align:right">{esc(c)}</th>' for c in classes)
    rows = []
    for name, row in zip(classes, matrix):
        total = sum(row) or 1
        cells = "".join(
            f'<td style="{_TD};background:rgba(74,118,168,{min(0.85, 0.1 + v / total) if v else 0:.2f})">'
            f"{v:,}</td>" for v in row)
        rows.append(f'<tr><th style="{_TH}">{esc(name)}</th>{cells}</tr>')
    cap = f'<caption style="text-align:left;font-style:italic">{esc(caption)}</caption>' if caption else ""
    return (f'<table style="border-collapse:collapse;margin:4px 0">{cap}<tr><th style="{_TH}">true \\ predicted'
            f'</th>{head}</tr>{"".join(rows)}</table>')


def png_strip(images, *, scale: int = 2, max_bytes: int = MAX_PNG_BYTES) -> str:
    """An ``<img>`` of *images* side by side (uint8, 0 = background, drawn dark on light as in
    the notebooks' ``binary`` colormap), as a PNG data URL of at most *max_bytes*: images are
    dropped from the end until it fits."""
    import numpy as np
    from PIL import Image

    images = np.asarray(images)
    n = len(images)
    while n > 0:
        strip = 255 - np.concatenate(list(images[:n]), axis=1).astype(np.uint8)
        img = Image.fromarray(strip, mode="L")
        if scale > 1:
            img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
        buf = io.BytesIO()
        img.save(buf, format="PNG", optimize=True)
        if buf.tell() <= max_bytes:
            src = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
            return f'<img src="{src}" alt="the first {n} images" style="image-rendering:pixelated;max-width:100%">'
        n //= 2
    return ""


def details(summary: str, body: str) -> str:
    """A folded section (``<details>``): long tables stay out of the way until clicked."""
    return f'<details style="margin:2px 0"><summary>{esc(summary)}</summary>{body}</details>'
