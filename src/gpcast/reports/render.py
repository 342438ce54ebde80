"""Rendering through the Jinja2 templates shipped in ``gpcast/reports/templates``.

``*.html.j2`` templates autoescape: every value is escaped as ``html.escape`` does it
(quotes included, so attributes in either quote style are safe) unless it is already
:class:`~markupsafe.Markup`. ``*.md.j2`` templates write values as they are. All HTML
reports extend ``base.html.j2`` and share ``style.css``; they are self-contained (CSS
inline, charts as base64 PNG, no CDN).
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from functools import cache

import jinja2
import pandas as pd
from markupsafe import Markup


@dataclass(frozen=True)
class Table:
    """A table as text: column names and rows of formatted cells."""

    columns: list[str]
    rows: list[list[str]]


def number(value: object) -> str:
    """A table cell: blank when missing, thousands separated from 1000, else 4 digits."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if value != value else f"{value:,.0f}" if abs(value) >= 1000 \
            else f"{value:.4g}"
    return str(value)


def short_number(value: float | None) -> str:
    """A number in running text: 4 significant digits, a dash when missing or infinite."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.4g}"


def percent(value: float | None) -> str:
    """A share as a percentage with one decimal, a dash when missing or infinite."""
    return "–" if value is None or not math.isfinite(value) else f"{value:.1%}"


def table(frame: pd.DataFrame) -> Table:
    """``frame``'s columns and its cells formatted by :func:`number` (the index is left
    out: reset it first to show it)."""
    cells = frame.map(number).astype(str).to_numpy().tolist()
    return Table([str(c) for c in frame.columns], cells)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured pipe table of :func:`table` (no tabulate dependency)."""
    macros = _environment(False).get_template("macros.md.j2").module
    return str(getattr(macros, "table")(table(frame)))  # noqa: B009 (a template macro)


def png_data(png: bytes) -> Markup:
    """A PNG as a ``data:`` URI (base64 needs no escaping)."""
    return Markup("data:image/png;base64," + base64.b64encode(png).decode("ascii"))


def _escaped(value: object) -> object:
    return value if isinstance(value, Markup) else Markup(html.escape(str(value)))


@cache
def _environment(markup: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gpcast.reports", "templates"), autoescape=markup,
        finalize=_escaped if markup else None, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(number=number, short_number=short_number, percent=percent,
                       png_data=png_data,
                       json=lambda value: json.dumps(value, sort_keys=True),
                       md_cell=lambda text: str(text).replace("|", "\\|"))
    return env


def render(template: str, **context: object) -> str:
    """The named template rendered with ``context``: HTML (autoescaped) for
    ``*.html.j2``, text as is for the others."""
    return _environment(template.endswith(".html.j2")).get_template(template).render(context)


__all__ = ["Table", "markdown_table", "number", "percent", "png_data", "render",
           "short_number", "table"]
