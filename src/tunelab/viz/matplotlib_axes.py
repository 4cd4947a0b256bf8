"""tunelab's plotly figures drawn again on matplotlib Axes, for reports and papers.

The figure functions decide what to draw once, as a plotly figure; this module redraws that
figure's traces (points, lines, bars, contours, parallel coordinates, 3-D points) and axes
(titles, log scales, labelled ticks, subplot grids) with matplotlib. So the two drawings of a
figure always show the same trials, values and choices, and a new figure needs no second
drawing code unless it brings a new kind of trace.

Needs matplotlib (the ``matplotlib`` extra).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from tunelab.exceptions import MissingExtraError, TunelabError
from tunelab.viz._plotly import go

try:
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Colormap, LinearSegmentedColormap
except ImportError as exc:
    raise MissingExtraError("matplotlib", "matplotlib", "tunelab.visualization.matplotlib") from exc

_SYMBOLS = {"circle": "o", "x": "x", "square": "s", "diamond": "D", "cross": "+"}
_MS_PER_DAY = 86_400_000.0
Json = dict[str, Any]


def draw_figure(figure: go.Figure) -> Axes | np.ndarray:
    """The figure on a new matplotlib figure: its Axes, or an array of them (one row of
    panels as a 1-D array, a matrix as a 2-D one) when the figure has subplots."""
    # Read trace by trace: the whole figure's JSON packs numpy arrays into base64 strings.
    layout = figure.layout.to_plotly_json()
    traces = [trace.to_plotly_json() for trace in figure.data]
    if any(trace["type"] == "scatter3d" for trace in traces):
        return _draw_3d(traces, layout)
    grid, panel_of = _panels(layout)
    size = None if grid == (1, 1) else (4.0 * grid[1] + 1.0, 3.2 * grid[0] + 0.5)
    _, axes = plt.subplots(*grid, squeeze=False, figsize=size, layout="constrained")
    for (x_ref, y_ref), (row, col) in panel_of.items():
        ax = axes[row, col]
        drawn = [t for t in traces if (t.get("xaxis", "x"), t.get("yaxis", "y")) == (x_ref, y_ref)]
        if not drawn and grid != (1, 1):
            ax.set_axis_off()  # the diagonal of a matrix of pairs
            continue
        _draw_traces(ax, drawn, layout)
        _format_axis(ax, "x", layout.get(_layout_key(x_ref), {}))
        _format_axis(ax, "y", layout.get(_layout_key(y_ref), {}))
        if ax.get_legend_handles_labels()[1]:
            ax.legend()
    title = _text(layout.get("title"))
    if grid == (1, 1):
        axes[0, 0].set_title(title)
        return axes[0, 0]
    axes[0, 0].figure.suptitle(title)
    return axes[0] if grid[0] == 1 else axes


def _panels(layout: Json) -> tuple[tuple[int, int], dict[tuple[str, str], tuple[int, int]]]:
    """The grid of subplots and, for each pair of plotly axes (``"x2"``, ``"y2"``), its cell."""
    x_keys = sorted(
        (key for key in layout if re.fullmatch(r"xaxis\d*", key) and "domain" in layout[key]),
        key=lambda key: int(key[5:] or 1),
    )
    if not x_keys:
        return (1, 1), {("x", "y"): (0, 0)}
    pairs = {key: _layout_key(layout[key].get("anchor", "y")) for key in x_keys}
    columns = sorted({layout[key]["domain"][0] for key in x_keys})
    rows = sorted({layout[y_key]["domain"][0] for y_key in pairs.values()}, reverse=True)
    cells = {}
    for x_key, y_key in pairs.items():
        cell = (rows.index(layout[y_key]["domain"][0]), columns.index(layout[x_key]["domain"][0]))
        cells[(_trace_ref(x_key), _trace_ref(y_key))] = cell
    return (len(rows), len(columns)), cells


def _layout_key(ref: str) -> str:
    """``"x2"`` -> ``"xaxis2"``: a trace's axis reference as the layout's key."""
    return f"{ref[0]}axis{ref[1:]}"


def _trace_ref(key: str) -> str:
    """``"xaxis2"`` -> ``"x2"``."""
    return key[0] + key[5:]


def _draw_traces(ax: Axes, traces: Sequence[Json], layout: Json) -> None:
    bars = [trace for trace in traces if trace["type"] == "bar"]
    if bars:
        _draw_bars(ax, bars, layout)
    for trace in traces:
        if trace["type"] in _DRAW_ONE:
            _DRAW_ONE[trace["type"]](ax, trace)
        elif trace["type"] != "bar":
            # Left out, it would make a figure that silently shows less than its namesake.
            raise TunelabError(
                f"draw_figure: a plotly {trace['type']!r} trace has no matplotlib drawing; "
                "use the plotly figure (tunelab.visualization) for this one."
            )


def _draw_scatter(ax: Axes, trace: Json) -> None:
    x, y = list(trace.get("x", ())), list(trace.get("y", ()))
    label = trace.get("name") if trace.get("showlegend", True) else None
    if trace.get("fill") == "toself":
        ax.fill(x, y, color=_color(trace.get("fillcolor")), alpha=trace.get("opacity", 1.0),
                linewidth=0)
        return
    mode, line = trace.get("mode", "markers"), trace.get("line", {})
    if "lines" in mode:
        ax.plot(
            x, y, label=label, color=_color(line.get("color")),
            linestyle=":" if line.get("dash") == "dot" else "-",
            drawstyle="steps-post" if line.get("shape") == "hv" else "default",
        )
        label = None  # one legend entry for a line with markers
    if "markers" in mode:
        # plotly colours the markers of a line like the line, unless told otherwise.
        marker = {"color": line.get("color"), **trace.get("marker", {})}
        _draw_markers(ax, x, y, marker, label)
    error = trace.get("error_y")
    if error and error.get("visible", True):
        ax.errorbar(x, y, yerr=list(error["array"]), fmt="none", ecolor="0.4", capsize=2)


def _draw_markers(ax: Axes, x: list[Any], y: list[Any], marker: Json, label: str | None) -> None:
    """Points; plotly gives a symbol per point where matplotlib takes one per call, so points
    are drawn in one call per symbol."""
    color, size = marker.get("color"), marker.get("size", 6)
    per_point: Json = {"s": _per_point(size, len(x))}
    style: Json = {}
    if _is_numeric(color):
        per_point["c"] = _per_point(color, len(x))
        style.update(cmap=_colormap(marker), vmin=marker.get("cmin"), vmax=marker.get("cmax"))
    elif color is not None:
        style["color"] = _color(color)
    symbols = _per_point(marker.get("symbol", "circle"), len(x))
    for symbol in dict.fromkeys(symbols):
        keep = [i for i, each in enumerate(symbols) if each == symbol]
        chosen: Json = {key: [values[i] for i in keep] for key, values in per_point.items()}
        chosen["s"] = [(0.75 * diameter) ** 2 for diameter in chosen["s"]]  # px to points²
        artist = ax.scatter([x[i] for i in keep], [y[i] for i in keep], label=label,
                            marker=_SYMBOLS.get(symbol, "o"), **chosen, **style)
        label = None
    if marker.get("showscale") and _is_numeric(color):
        _colorbar(ax, artist, marker.get("colorbar", {}))


def _per_point(value: Any, n_points: int) -> list[Any]:
    """A marker property that plotly gives once or per point, per point."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return list(value)
    return [value] * n_points


def _draw_bars(ax: Axes, bars: Sequence[Json], layout: Json) -> None:
    """Bars by category, side by side when plotly groups them (its default) and on top of
    each other when it overlays them; a date base (a timeline) puts them on a date axis."""
    horizontal = bars[0].get("orientation") == "h"
    along, length = ("y", "x") if horizontal else ("x", "y")
    categories = list(layout.get(f"{along}axis", {}).get("categoryarray", ()))
    for trace in bars:
        categories += [c for c in trace.get(along, ()) if c not in categories]
    grouped = layout.get("barmode", "group") == "group" and len(bars) > 1
    thickness = 0.8 / len(bars) if grouped else 0.8
    for index, trace in enumerate(bars):
        offset = (index - (len(bars) - 1) / 2) * thickness if grouped else 0.0
        positions = [categories.index(c) + offset for c in trace.get(along, ())]
        sizes = np.asarray(trace.get(length, ()), dtype=float)
        base = trace.get("base")
        if base is not None and len(base) and isinstance(base[0], datetime):
            base, sizes = mdates.date2num(list(base)), sizes / _MS_PER_DAY
            (ax.xaxis if horizontal else ax.yaxis).axis_date()
        draw = ax.barh if horizontal else ax.bar
        container = draw(positions, sizes, thickness, base if base is not None else 0.0,
                         color=_color(trace.get("marker", {}).get("color")),
                         label=trace.get("name") if trace.get("showlegend", True) else None)
        if trace.get("text") is not None:
            ax.bar_label(container, labels=list(trace["text"]), padding=2)
    set_ticks = ax.set_yticks if horizontal else ax.set_xticks
    set_ticks(range(len(categories)), labels=[str(c) for c in categories])


def _draw_contour(ax: Axes, trace: Json) -> None:
    z = np.ma.masked_invalid(np.asarray(trace["z"], dtype=float))
    if z.count() == 0:
        return
    levels = np.linspace(trace.get("zmin", z.min()), trace.get("zmax", z.max()), 16)
    artist = ax.contourf(trace["x"], trace["y"], z, levels=np.unique(levels),
                         cmap=_colormap(trace), extend="both")
    if trace.get("showscale", True):
        _colorbar(ax, artist, trace.get("colorbar", {}))


def _draw_parallel_coordinates(ax: Axes, trace: Json) -> None:
    """A vertical axis per dimension, each scaled to its range, its ticks labelled with the
    dimension's own values; a line per trial through them."""
    dimensions = trace["dimensions"]
    columns = []
    for index, dimension in enumerate(dimensions):
        values = np.asarray(dimension["values"], dtype=float)
        low, high = dimension.get("range", (values.min(), values.max()))
        span = (high - low) or 1.0
        columns.append((values - low) / span)
        tickvals = dimension.get("tickvals")
        if tickvals is None:
            ticks = [(low, f"{low:.3g}"), (high, f"{high:.3g}")]
        else:
            ticks = list(zip(tickvals, dimension.get("ticktext", tickvals)))
        for value, text in ticks:
            ax.annotate(str(text), (index, (value - low) / span), fontsize=7,
                        xytext=(3, 0), textcoords="offset points", va="center")
        ax.axvline(index, color="0.3", linewidth=0.8)
    points = np.column_stack(columns)
    positions = np.arange(len(dimensions))
    lines = LineCollection([np.column_stack([positions, row]) for row in points], alpha=0.7)
    line = trace.get("line", {})
    if _is_numeric(line.get("color")):
        lines.set_array(np.asarray(line["color"], dtype=float))
        lines.set_cmap(_colormap(line))
        ax.add_collection(lines)
        if line.get("showscale"):
            _colorbar(ax, lines, line.get("colorbar", {}))
    else:
        ax.add_collection(lines)
    ax.set_xlim(-0.2, len(dimensions) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xticks(positions, labels=[d.get("label", "") for d in dimensions])
    ax.set_yticks([])


_DRAW_ONE = {
    "scatter": _draw_scatter,
    "contour": _draw_contour,
    "parcoords": _draw_parallel_coordinates,
}


def _draw_3d(traces: Sequence[Json], layout: Json) -> Axes:
    ax = plt.figure().add_subplot(projection="3d")
    for trace in traces:
        marker = trace.get("marker", {})
        ax.scatter(list(trace["x"]), list(trace["y"]), list(trace["z"]),
                   color=_color(marker.get("color")), label=trace.get("name"),
                   marker=_SYMBOLS.get(marker.get("symbol", "circle"), "o"))
    scene = layout.get("scene", {})
    ax.set_xlabel(_text(scene.get("xaxis", {}).get("title")))
    ax.set_ylabel(_text(scene.get("yaxis", {}).get("title")))
    ax.set_zlabel(_text(scene.get("zaxis", {}).get("title")))
    ax.set_title(_text(layout.get("title")))
    ax.legend()
    return ax


def _format_axis(ax: Axes, which: str, spec: Json) -> None:
    """Title, log scale, labelled ticks and range of the ``which`` ("x" or "y") axis, as the
    plotly layout sets them."""
    getattr(ax, f"set_{which}label")(_text(spec.get("title")))
    if spec.get("type") == "log":
        getattr(ax, f"set_{which}scale")("log")
    if spec.get("tickvals") is not None:
        labels = [str(text) for text in spec.get("ticktext", ())]
        getattr(ax, f"set_{which}ticks")(list(spec["tickvals"]), labels=labels)
    if spec.get("range") is not None and spec.get("type") != "log":
        getattr(ax, f"set_{which}lim")(*spec["range"])


def _colorbar(ax: Axes, artist: ScalarMappable, spec: Json) -> None:
    bar = ax.figure.colorbar(artist, ax=ax)
    bar.set_label(_text(spec.get("title")))
    if spec.get("tickvals") is not None:
        bar.set_ticks(list(spec["tickvals"]), labels=[str(t) for t in spec.get("ticktext", ())])


def _colormap(spec: Json) -> Colormap:
    """A plotly colour scale (a list of (position, colour) pairs) as a matplotlib colour map."""
    scale = spec.get("colorscale") or [[0.0, "rgb(247,251,255)"], [1.0, "rgb(8,48,107)"]]
    colormap = LinearSegmentedColormap.from_list(
        "plotly", [(float(position), _color(color)) for position, color in scale]
    )
    return colormap.reversed() if spec.get("reversescale") else colormap


def _color(color: Any) -> Any:
    """A plotly colour as matplotlib takes it: ``"rgb(8,48,107)"`` becomes an RGB tuple;
    names and ``#rrggbb`` stay as they are."""
    if not isinstance(color, str) or not color.startswith("rgb"):
        return color
    parts = [float(part) for part in re.findall(r"[\d.]+", color)]
    return tuple(part / 255.0 for part in parts[:3]) + tuple(parts[3:4])


def _is_numeric(values: Any) -> bool:
    return (isinstance(values, (list, tuple, np.ndarray)) and len(values) > 0
            and not isinstance(values[0], str))


def _text(title: Any) -> str:
    """A plotly title, given as a string or as ``{"text": ...}``."""
    if isinstance(title, dict):
        return str(title.get("text") or "")
    return str(title or "")

