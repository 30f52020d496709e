"""Whether any text of a matplotlib figure falls outside it (clipped in the PNG)."""

from __future__ import annotations


def texts_outside(fig) -> list[tuple[str, tuple[float, ...]]]:
    """(text, its extent in pixels) of every drawn text that is not wholly inside the figure:
    titles, axis labels, legends, annotations, and the tick labels each axes draws."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox.padded(0.5)  # sub-pixel rounding is not clipping
    ticks = {id(label) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for tick in axis.get_major_ticks() + axis.get_minor_ticks()
             for label in (tick.label1, tick.label2)}
    found = []
    for text in fig.findobj(Text):
        if id(text) in ticks or not text.get_visible() or not text.get_text().strip():
            continue
        extent = text.get_window_extent(renderer)
        if not _inside(extent, box):
            found.append((text.get_text(), tuple(map(float, extent.extents))))
    for ax in fig.axes:  # a tick label outside the view is not drawn: the axes knows which
        extent = ax.get_tightbbox(renderer)
        if extent is not None and not _inside(extent, box):
            found.append((f"the ticks or labels of axes {fig.axes.index(ax)}",
                          tuple(map(float, extent.extents))))
    return found


def _inside(extent, box) -> bool:
    return (extent.x0 >= box.x0 and extent.x1 <= box.x1 and extent.y0 >= box.y0
            and extent.y1 <= box.y1)
