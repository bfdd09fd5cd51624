"""Benchmark charts a reviewer can paste into a paper.

One panel per dataset, horizontal bars (one per row: method and protocol),
the value printed at the end of each bar, error bars (sample SD over the
seeds) on rows that are means over seeds, published rows hatched grey and
stand-in SAM rows in their own colour. Labels wrap instead of being clipped;
the figure grows in height, not width, with the number of rows.
"""
import math
import textwrap
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

__all__ = ['headline', 'rows_by_dataset', 'make_figure', 'plot_rows']

#: Metric drawn per row: mIoU, else the binary foreground IoU, else Dice.
HEADLINE_ORDER = ('mIoU', 'IoU', 'Dice')
COLOURS = dict(measured='#4c72b0', stand_in='#dd8452', published='#bbbbbb')
LABEL_WIDTH = 44  # characters per label line
ROW_HEIGHT = 0.5  # inches per bar (room for three label lines)


def headline(row) -> Tuple[str, float, float]:
    """``(metric, value, sd)`` of the row's headline metric (sd 0 without seeds)."""
    for key in HEADLINE_ORDER:
        value = row.metrics.get(key)
        if value is not None:
            return key, float(value), float(row.metrics_std.get(key) or 0.0)
    return HEADLINE_ORDER[0], math.nan, 0.0


def rows_by_dataset(rows: Sequence) -> Dict[str, List]:
    """The rows grouped by dataset, in order of first appearance."""
    groups: Dict[str, List] = OrderedDict()
    for row in rows:
        groups.setdefault(row.dataset, []).append(row)
    return groups


def _label(row) -> str:
    seeds = f', {len(row.seeds)} seeds' if row.seeds else ''
    text = textwrap.fill(row.method, LABEL_WIDTH)
    return f'{text}\n[{row.protocol}{seeds}]'


def _kind(row) -> str:
    if row.published_source:
        return 'published'
    return 'stand_in' if row.stand_in_sam else 'measured'


def _draw_panel(ax, dataset: str, rows: Sequence) -> None:
    values = [headline(row) for row in rows]
    positions = list(range(len(rows)))[::-1]  # first row on top
    sds = [sd for _, _, sd in values]
    bars = ax.barh(positions, [v for _, v, _ in values], height=0.7,
                   color=[COLOURS[_kind(r)] for r in rows])
    seeded = [i for i, row in enumerate(rows) if row.seeds]
    if seeded:  # error bars on the rows that are means over seeds only
        ax.errorbar([values[i][1] for i in seeded], [positions[i] for i in seeded],
                    xerr=[sds[i] for i in seeded], fmt='none', ecolor='black', capsize=3, lw=1)
    for bar, row, (_, value, sd) in zip(bars, rows, values):
        if row.published_source:
            bar.set_hatch('//')
        text = 'n/a' if math.isnan(value) else f'{value:.1f}' + (
            f' ± {sd:.1f}' if row.seeds else '')
        ax.text((0 if math.isnan(value) else value) + (sd if row.seeds else 0) + 1,
                bar.get_y() + bar.get_height() / 2, text, va='center', fontsize=8)
    ax.set_yticks(positions, [_label(r) for r in rows], fontsize=8)
    metrics = sorted({key for key, _, _ in values})
    ax.set_xlabel(' / '.join(metrics) + ' (%)')
    ax.set_xlim(0, 112)
    ax.set_title(dataset, fontsize=10, loc='left')
    ax.grid(axis='x', alpha=0.3)


def make_figure(rows: Sequence, *, title: str = ''):
    """The chart of ``rows`` (:class:`~.harness.BenchmarkRow`) as a matplotlib figure.

    Args:
        rows: The rows; each dataset gets its own panel.
        title: Figure title (optional).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    groups = rows_by_dataset(rows)
    heights = [max(1.5, ROW_HEIGHT * len(group) + 0.9) for group in groups.values()]
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, sum(heights) + 0.8), squeeze=False,
                             gridspec_kw=dict(height_ratios=heights))
    for ax, (dataset, group) in zip(axes[:, 0], groups.items()):
        _draw_panel(ax, dataset, group)
    kinds = {_kind(row) for row in rows}
    names = dict(measured='measured', stand_in='measured, SAM = random stand-in',
                 published='published, not re-run')
    handles = [Patch(facecolor=COLOURS[k], hatch='//' if k == 'published' else None,
                     label=names[k]) for k in COLOURS if k in kinds]
    if any(row.seeds for row in rows):
        handles.append(Patch(facecolor='white', edgecolor='black',
                             label='error bar: SD over seeds'))
    fig.legend(handles=handles, loc='lower center', ncol=len(handles), fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def plot_rows(rows: Sequence, path: str, *, title: str = '') -> None:
    """Write the chart of :func:`make_figure` to ``path`` (PNG, 150 dpi, nothing clipped)."""
    import matplotlib.pyplot as plt
    fig = make_figure(rows, title=title)
    fig.savefig(path, dpi=150, bbox_inches='tight')
    plt.close(fig)
