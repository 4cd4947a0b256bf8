"""The HTML building blocks of the report: escaped text, tables, notes, sections, the page.

Every piece of text that comes from a study (names, parameters, failure messages, the doctor's
evidence) goes through :func:`escape`; what a helper here has already built is
:class:`Markup`, which :func:`escape` passes through unchanged. So text is escaped exactly
once, wherever it ends up, and a study named ``<script>`` shows as text.

The page inlines plotly.js once, in the head, and every figure only calls ``Plotly.newPlot``:
the file opens offline, and ten figures cost one copy of the library, not ten.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import plotly.graph_objects as go

# What plotly.js shows without a layout height; taller figures set their own height.
DEFAULT_FIGURE_HEIGHT_PX = 450
# The mode bar's plotly logo links to plotly's site, which an offline report cannot reach.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

STYLE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --soft: #f5f7fa; --accent: #2f5fa7; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { background: var(--soft); border-bottom: 1px solid var(--line); padding: 24px 0 12px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0; color: var(--muted); }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 24px; }
nav { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 14px; }
nav a { color: var(--accent); text-decoration: none; padding: 3px 10px; border-radius: 12px;
        border: 1px solid var(--line); background: #fff; font-size: 14px; }
nav a:hover { background: var(--accent); color: #fff; }
section { padding: 8px 0 24px; border-bottom: 1px solid var(--line); }
h2 { font-size: 21px; margin: 24px 0 10px; }
h3 { font-size: 17px; margin: 20px 0 8px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 5px 10px;
         border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.note { color: var(--muted); background: var(--soft); border-left: 3px solid var(--line);
        padding: 6px 12px; margin: 8px 0; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 13px;
         color: #fff; background: var(--muted); margin-right: 4px; }
.badge.COMPLETE { background: #1f77b4; } .badge.PRUNED { background: #ff7f0e; }
.badge.FAIL { background: #d62728; } .badge.RUNNING { background: #2ca02c; }
.badge.warning { background: #b7791f; } .badge.info { background: #2b6cb0; }
code { font-size: 13px; background: var(--soft); padding: 0 4px; border-radius: 3px; }
figure { margin: 12px 0 20px; }
figcaption { color: var(--muted); font-size: 14px; margin-top: 2px; }
footer { color: var(--muted); font-size: 13px; padding: 16px 0 32px; }
"""


class Markup(str):
    """HTML that a helper of this module built, so :func:`escape` leaves it as it is."""


def escape(value: object) -> Markup:
    """``value`` as HTML text: escaped, unless it is :class:`Markup` already."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[object]) -> Markup:
    """The parts one after the other, each escaped unless it is Markup."""
    return Markup("".join(escape(part) for part in parts))


def tag(name: str, content: object = "", **attributes: str) -> Markup:
    """``<name attr="...">content</name>``; ``class_`` gives the ``class`` attribute, and
    attributes given as "" are left out."""
    attrs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"'
        for key, value in attributes.items()
        if value
    )
    return Markup(f"<{name}{attrs}>{escape(content)}</{name}>")


def note(text: object) -> Markup:
    """A muted paragraph: why something is not shown, or how to read it."""
    return tag("p", text, class_="note")


def badge(text: object, kind: str) -> Markup:
    return tag("span", text, class_=f"badge {kind}")


def code(text: object) -> Markup:
    return tag("code", text)


@dataclass(frozen=True)
class Column:
    """A table column: its heading, and whether it holds numbers (right-aligned)."""

    heading: str
    numeric: bool = False


def table(columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> Markup:
    """A table; each cell is escaped text or Markup."""
    head = join(tag("th", c.heading, class_="num" if c.numeric else "") for c in columns)
    body = join(
        tag("tr", join(tag("td", cell, class_="num" if c.numeric else "")
                       for c, cell in zip(columns, row)))
        for row in rows
    )
    return tag("table", join([tag("thead", tag("tr", head)), tag("tbody", body)]))


def facts(pairs: Iterable[tuple[str, object]]) -> Markup:
    """A two-column list of labels and values."""
    return tag("dl", join(join([tag("dt", label), tag("dd", value)]) for label, value in pairs),
               class_="facts")


@dataclass(frozen=True)
class Section:
    """One part of the report: its stable ``id`` (tests and links find it by that), its
    heading and its body."""

    id: str
    title: str
    body: Markup

    def render(self) -> Markup:
        return tag("section", join([tag("h2", self.title), self.body]), id=self.id)


def figure(fig: go.Figure, div_id: str, caption: str) -> Markup:
    """A plotly figure drawn by the page's one copy of plotly.js, with a caption under it."""
    height = fig.layout.height or DEFAULT_FIGURE_HEIGHT_PX
    drawing = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=PLOTLY_CONFIG,
        default_height=f"{height}px",
    )
    return tag("figure", join([Markup(drawing), tag("figcaption", caption)]))


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle that the installed plotly ships (read once: it is megabytes)."""
    from plotly.offline import get_plotlyjs

    bundle: str = get_plotlyjs()
    return bundle


def page(title: str, subtitle: str, sections: Sequence[Section], footer: str) -> str:
    """The whole document: head with style and plotly.js, a header with links to each
    section, the sections, a footer."""
    links = join(tag("a", s.title, href=f"#{s.id}") for s in sections)
    header = tag(
        "header",
        tag("div", join([tag("h1", title), tag("p", subtitle), tag("nav", links)]), class_="wrap"),
    )
    main = tag("main", join(s.render() for s in sections), class_="wrap")
    head = join([
        Markup('<meta charset="utf-8">'),
        Markup('<meta name="viewport" content="width=device-width, initial-scale=1">'),
        tag("title", title),
        Markup(f"<style>{STYLE}</style>"),
        Markup(f'<script type="text/javascript">{plotly_js()}</script>'),
    ])
    body = join([header, main, tag("footer", tag("div", footer, class_="wrap"))])
    return f'<!DOCTYPE html>\n<html lang="en">\n<head>{head}</head>\n<body>{body}</body>\n</html>\n'
