"""Tables, ratios, Markdown and a chart for the SAM tuning memory benchmark.

Input: ``results``, a dict from variant name to the dict of
:func:`~epsam.benchmarking.measure_training_step` (or ``dict(error=...)``
when the variant's process failed).
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from prettytable import PrettyTable

__all__ = ['MEMORY_METRICS', 'MEMORY_TARGETS', 'WEIGHTS_NOTE', 'primary_metric',
           'memory_ratios', 'results_table', 'ratios_table', 'markdown_report', 'plot_memory']

WEIGHTS_NOTE = ('SAM weights are random (checkpoint=None): the memory and speed of a '
                'training step do not depend on the values of the weights.')

#: (result key, label) of the memory numbers, in table order.
MEMORY_METRICS: Tuple[Tuple[str, str], ...] = (
    ('saved_bytes', 'saved for backward'),
    ('peak_rss_step_delta_bytes', 'peak RSS step delta'),
    ('peak_rss_bytes', 'peak RSS total'),
    ('cuda_max_allocated_bytes', 'CUDA max allocated'),
)

#: (numerator variant, denominator variant, largest acceptable ratio).
MEMORY_TARGETS: Tuple[Tuple[str, str, float], ...] = (
    ('cad', 'sam_adapter', 0.4),
    ('cad', 'decoder_only', 1.3),
    ('cad_lean', 'decoder_only', 1.1),
)

MIB = float(1 << 20)
Results = Dict[str, Dict[str, object]]


def _value(results: Results, name: str, key: str) -> Optional[float]:
    entry = results.get(name) or {}
    value = entry.get(key)
    return None if value is None else float(value)


def primary_metric(results: Results) -> str:
    """The "peak" the targets are judged on.

    ``cuda_max_allocated_bytes`` when every measured variant has it (a GPU
    run), else ``peak_rss_step_delta_bytes`` (the memory the step adds on top
    of the built model in a fresh CPU process).
    """
    measured = [entry for entry in results.values() if 'error' not in entry]
    if measured and all(entry.get('cuda_max_allocated_bytes') is not None
                        for entry in measured):
        return 'cuda_max_allocated_bytes'
    return 'peak_rss_step_delta_bytes'


def memory_ratios(results: Results,
                  targets: Sequence[Tuple[str, str, float]] = MEMORY_TARGETS) -> List[dict]:
    """Each target's ratio for every memory metric, with PASS/FAIL.

    A ratio is ``None`` (verdict ``'n/a'``) when a variant is missing, failed,
    lacks the metric, or the denominator is not positive.

    Returns:
        One dict per target: ``numerator``, ``denominator``, ``target``,
        ``metrics`` (metric key -> ``dict(ratio, verdict)``), and the
        ``primary_metric`` with its ``verdict``.
    """
    primary = primary_metric(results)
    rows = []
    for numerator, denominator, target in targets:
        metrics = {}
        for key, _ in MEMORY_METRICS:
            top, bottom = _value(results, numerator, key), _value(results, denominator, key)
            ratio = top / bottom if top is not None and bottom is not None and bottom > 0 else None
            verdict = 'n/a' if ratio is None else ('PASS' if ratio <= target else 'FAIL')
            metrics[key] = dict(ratio=ratio, verdict=verdict)
        rows.append(dict(numerator=numerator, denominator=denominator, target=target,
                         metrics=metrics, primary_metric=primary,
                         verdict=metrics[primary]['verdict']))
    return rows


def _mib(value: Optional[float]) -> str:
    return 'n/a' if value is None else f'{value / MIB:,.1f}'


def _results_rows(results: Results) -> Tuple[List[str], List[List[str]]]:
    header = ['variant', 'trainable params', 'saved for backward (MiB)',
              'peak RSS total (MiB)', 'peak RSS step delta (MiB)', 'CUDA max alloc (MiB)',
              'encoder images in step', 'step time (s)']
    rows = []
    for name, entry in results.items():
        if 'error' in entry:
            rows.append([name, 'failed: ' + str(entry['error'])[:60]] + [''] * 6)
            continue
        rows.append([
            name, f'{int(entry["trainable_params"]):,}', _mib(entry['saved_bytes']),
            _mib(entry['peak_rss_bytes']), _mib(entry['peak_rss_step_delta_bytes']),
            _mib(entry.get('cuda_max_allocated_bytes')),
            str(entry['encoder_images_during_step']), f'{float(entry["step_time_s"]):.2f}'])
    return header, rows


def _ratio_rows(ratios: List[dict]) -> Tuple[List[str], List[List[str]]]:
    header = ['ratio', 'target'] + [label for _, label in MEMORY_METRICS] + ['verdict (peak)']
    rows = []
    for row in ratios:
        cells = [f'{row["numerator"]} / {row["denominator"]}', f'<= {row["target"]:g}x']
        for key, _ in MEMORY_METRICS:
            metric = row['metrics'][key]
            cells.append('n/a' if metric['ratio'] is None
                         else f'{metric["ratio"]:.2f}x {metric["verdict"]}')
        cells.append(row['verdict'])
        rows.append(cells)
    return header, rows


def _pretty(header: List[str], rows: List[List[str]]) -> str:
    table = PrettyTable(header)
    table.align = 'r'
    table.align[header[0]] = 'l'
    for row in rows:
        table.add_row(row)
    return table.get_string()


def results_table(results: Results) -> str:
    """A prettytable of the per-variant numbers."""
    return _pretty(*_results_rows(results))


def ratios_table(ratios: List[dict]) -> str:
    """A prettytable of the target ratios, every metric, PASS/FAIL."""
    return _pretty(*_ratio_rows(ratios))


def _markdown(header: List[str], rows: List[List[str]]) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(cell.replace('|', '/') for cell in row) + ' |' for row in rows]
    return '\n'.join(lines)


def _machine_line(machine: Dict[str, object]) -> str:
    memory = machine.get('total_memory_bytes')
    memory_text = 'unknown' if memory is None else f'{float(memory) / (1 << 30):.1f} GiB'
    return (f'{machine.get("cpu_count")} CPUs ({machine.get("cpu_affinity")} usable, '
            f'{machine.get("torch_threads")} torch threads), {memory_text} RAM, '
            f'torch {machine.get("torch")}, python {machine.get("python")}, device '
            f'{machine.get("device")} ({machine.get("device_name")}), {machine.get("platform")}')


def markdown_report(report: Dict[str, object]) -> str:
    """The Markdown page of a benchmark report (the JSON's content)."""
    settings = report['settings']
    ratios = report['ratios']
    primary = dict(MEMORY_METRICS)[ratios[0]['primary_metric']] if ratios else 'n/a'
    lines = [
        '# SAM tuning variants: memory and speed of one training step', '',
        f'- date: {report["date"]}',
        f'- command: `{report["command"]}`',
        f'- weights: {WEIGHTS_NOTE}',
        f'- machine: {_machine_line(report["machine"])}',
        f'- setting: SAM {settings["variant_size"]}, encoder input {settings["image_size"]} px, '
        f'CAD adapter input {settings["adapter_input"]} px, batch {settings["batch_size"]}, '
        'one full-image box prompt per image, loss forward + backward + AdamW step',
        f'- memory-lean CAD: {report["lean_cache_note"]}', '',
        _markdown(*_results_rows(report['results'])), '',
        f'Ratios (verdict on **{primary}**; every metric is judged against the same target):',
        '', _markdown(*_ratio_rows(ratios)), '']
    if report.get('chart'):
        lines += [f'Chart: `{report["chart"]}`', '']
    return '\n'.join(lines)


def plot_memory(results: Results, path: Union[str, Path], title: str, subtitle: str) -> Path:
    """Bar chart (PNG, Agg) of the memory per variant: saved-for-backward,
    peak RSS step delta and, when measured, CUDA max allocated, in MiB."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    names = [name for name, entry in results.items() if 'error' not in entry]
    series = [(key, label) for key, label in MEMORY_METRICS
              if key != 'peak_rss_bytes'
              and any(results[name].get(key) is not None for name in names)]
    width = 0.8 / max(len(series), 1)
    figure, axis = plt.subplots(figsize=(max(6.0, 1.6 * len(names) + 2), 4.8))
    for index, (key, label) in enumerate(series):
        values = [(results[name].get(key) or 0) / MIB for name in names]
        positions = [i + (index - (len(series) - 1) / 2) * width for i in range(len(names))]
        bars = axis.bar(positions, values, width, label=label)
        axis.bar_label(bars, labels=[f'{v:,.0f}' for v in values], fontsize=7, rotation=90,
                       padding=2)
    axis.set_xticks(range(len(names)))
    axis.set_xticklabels(names, rotation=20)
    axis.set_ylabel('MiB')
    axis.margins(y=0.18)
    axis.set_title(title, fontsize=10)
    axis.legend(fontsize=8)
    figure.text(0.01, 0.01, subtitle, fontsize=7, ha='left', va='bottom', wrap=True)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
