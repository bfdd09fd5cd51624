"""Benchmark harness: collect WSSS results from work dirs, tabulate, chart.

Sources of rows:

* ``{work_dir}/final_metrics.json``, written at the end of a pipeline run
  (``tools/run_pipeline.py``) or by ``tools/benchmark.py --run``: one object
  or a list of objects ``{"method", "dataset", "protocol", "metrics":
  {"mIoU", "FwIoU", "Dice", "IoU.<class>", ...}, "train_time_s",
  "peak_memory_bytes", "trainable_params", "notes", "stand_in_sam",
  "sam_weights", "seeds", "metrics_std"}`` (``metrics`` needs ``mIoU``, or
  for binary runs ``IoU`` / ``Dice``); a report's ``{name}.json`` has the
  same form and can be collected again (to redraw its chart);
* the metrics json of a ``tools/test.py`` work dir (``{timestamp}/{timestamp}.json``,
  keys ``{protocol}/mIoU`` ...): one row per protocol prefix, named from the
  config dumped beside it (:mod:`.provenance`);
* published numbers (:mod:`.published`), marked "published, not re-run".

Metrics are in percent. Outputs: a prettytable string, Markdown, CSV, JSON
and a PNG chart (:mod:`.charts`).
"""
import csv
import glob
import json
import math
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

from prettytable import PrettyTable

from epsam.utils.errors import UserError

from .charts import plot_rows
from .provenance import dataset_of_config, method_of_config, sam_weights_of_config
from .published import canonical_dataset, published_rows

__all__ = [
    'BenchmarkFileError', 'BenchmarkRow', 'FINAL_METRICS_FILE', 'row_from_dict',
    'load_final_metrics', 'load_mmseg_test_metrics', 'collect', 'published_benchmark_rows',
    'table_header', 'table_records', 'format_table', 'row_notes', 'write_markdown', 'write_csv',
    'plot_rows', 'write_reports'
]

FINAL_METRICS_FILE = 'final_metrics.json'
_REQUIRED_TEXT = ('method', 'dataset', 'protocol')
_OPTIONAL_NUMBERS = ('train_time_s', 'peak_memory_bytes', 'trainable_params')
_SUMMARY_METRICS = ('mIoU', 'FwIoU')
# A row needs one of these: mIoU (multi-class), IoU / Dice (binary foreground).
_HEADLINE_METRICS = ('mIoU', 'IoU', 'Dice')
#: Protocol of rows from ``PerImageDiceMetric`` (EP-SAM's binary protocol).
PER_IMAGE_PROTOCOL = 'per-image foreground Dice/IoU'


class BenchmarkFileError(UserError, ValueError):
    """A results file or work dir that cannot be read, naming it and the problem."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f'{path}: {reason}')
        self.path = path
        self.reason = reason


@dataclass
class BenchmarkRow:
    """One table row: a method's result on a dataset under one protocol.

    Args:
        method: Method name.
        dataset: Dataset name (published form when known, e.g. ``BCSS-WSSS``).
        protocol: Background protocol (``exclude_background``, ``full_matrix``,
            ``as published``, ...).
        metrics: ``mIoU``, ``FwIoU``, ``Dice`` and ``IoU.<class>`` in percent.
        train_time_s: Wall-clock training time in seconds.
        peak_memory_bytes: Peak memory of the run in bytes.
        trainable_params: Number of trained parameters.
        notes: Free text.
        stand_in_sam: The run used a randomly initialised SAM stand-in.
        sam_weights: The SAM weights (:mod:`.provenance`): a name with a
            SHA-256 prefix, ``'stand-in (...)'``, ``'none'``, or ``''`` when
            not recorded.
        seeds: The seeds a mean row averages over, else ``None``.
        metrics_std: Sample standard deviation over ``seeds`` of some metrics.
        published_source: Set for published rows (not re-run): where from.
        origin: The file the row was read from.
    """

    method: str
    dataset: str
    protocol: str
    metrics: Dict[str, Optional[float]]
    train_time_s: Optional[float] = None
    peak_memory_bytes: Optional[int] = None
    trainable_params: Optional[int] = None
    notes: str = ''
    stand_in_sam: bool = False
    sam_weights: str = ''
    seeds: Optional[List[int]] = None
    metrics_std: Dict[str, float] = field(default_factory=dict)
    published_source: Optional[str] = None
    origin: str = field(default='', compare=False)

    @property
    def status(self) -> str:
        """How the number came about, for the table's last column."""
        if self.published_source is not None:
            return f'published, not re-run ({self.published_source})'
        if self.stand_in_sam:
            return 'measured, SAM = random stand-in (not a real SAM result)'
        return 'measured'

    def to_json(self) -> dict:
        """The ``final_metrics.json`` form of this row."""
        data = asdict(self)
        data.pop('origin')
        if self.published_source is None:
            data.pop('published_source')
        return data


def _check_number(value, where: str, path: str, integer: bool = False):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BenchmarkFileError(path, f'{where} must be a number or null, got {value!r}')
    if integer:
        if float(value) != int(value):
            raise BenchmarkFileError(path, f'{where} must be an integer, got {value!r}')
        return int(value)
    return float(value)


def row_from_dict(data: dict, path: str) -> BenchmarkRow:
    """Validate one ``final_metrics.json`` object.

    Raises:
        BenchmarkFileError: a required field is missing or has the wrong type
            (``metrics`` needs one of ``mIoU``, ``IoU``, ``Dice``).
    """
    if not isinstance(data, dict):
        raise BenchmarkFileError(path, f'expected a JSON object per result, got {type(data)}')
    for key in _REQUIRED_TEXT:
        if not isinstance(data.get(key), str) or not data[key]:
            raise BenchmarkFileError(path, f'"{key}" must be a non-empty string, '
                                     f'got {data.get(key)!r}')
    metrics = data.get('metrics')
    if not isinstance(metrics, dict):
        raise BenchmarkFileError(path, f'"metrics" must be an object, got {metrics!r}')
    if all(metrics.get(key) is None for key in _HEADLINE_METRICS):
        raise BenchmarkFileError(path, '"metrics" has none of ' + ', '.join(_HEADLINE_METRICS))
    metrics = {str(k): _check_number(v, f'metrics["{k}"]', path) for k, v in metrics.items()}
    extras = {k: _check_number(data.get(k), f'"{k}"', path, integer=k != 'train_time_s')
              for k in _OPTIONAL_NUMBERS}
    stand_in = data.get('stand_in_sam', False)
    if not isinstance(stand_in, bool):
        raise BenchmarkFileError(path, f'"stand_in_sam" must be true or false, got {stand_in!r}')
    texts = {}
    for key in ('notes', 'sam_weights'):
        texts[key] = data.get(key) or ''
        if not isinstance(texts[key], str):
            raise BenchmarkFileError(path, f'"{key}" must be a string, got {texts[key]!r}')
    seeds = data.get('seeds')
    if seeds is not None and (not isinstance(seeds, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise BenchmarkFileError(path, f'"seeds" must be a list of integers, got {seeds!r}')
    spread = data.get('metrics_std') or {}
    if not isinstance(spread, dict):
        raise BenchmarkFileError(path, f'"metrics_std" must be an object, got {spread!r}')
    spread = {str(k): _check_number(v, f'metrics_std["{k}"]', path) for k, v in spread.items()}
    source = data.get('published_source')
    if source is not None and not isinstance(source, str):
        raise BenchmarkFileError(path, f'"published_source" must be a string, got {source!r}')
    return BenchmarkRow(method=data['method'], dataset=canonical_dataset(data['dataset']),
                        protocol=data['protocol'], metrics=metrics, stand_in_sam=stand_in,
                        seeds=seeds, metrics_std=spread, published_source=source, origin=path,
                        **texts, **extras)


def _read_json(path: str):
    try:
        with open(path, encoding='utf-8') as file:
            return json.load(file)
    except FileNotFoundError:
        raise BenchmarkFileError(path, 'file not found') from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BenchmarkFileError(path, f'not valid JSON ({error})') from None


def load_final_metrics(path: str) -> List[BenchmarkRow]:
    """Rows of a ``final_metrics.json`` (one object or a list of objects)."""
    data = _read_json(path)
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BenchmarkFileError(path, 'holds an empty list of results')
    return [row_from_dict(item, path) for item in items]


def _test_metrics_file(work_dir: str) -> Optional[str]:
    """The newest ``{timestamp}/{timestamp}.json`` that ``tools/test.py`` wrote."""
    found = [path for path in glob.glob(osp.join(work_dir, '*', '*.json'))
             if osp.basename(path)[:-5] == osp.basename(osp.dirname(path))]
    return max(found) if found else None


def _config_of(work_dir: str):
    configs = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if not configs:
        return None, None
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(configs[0])
    except Exception as error:  # a corrupt dump: name the file
        raise BenchmarkFileError(configs[0], f'cannot read config ({error})') from None
    return configs[0], cfg


def load_mmseg_test_metrics(work_dir: str, *, method: Optional[str] = None,
                            dataset: Optional[str] = None) -> List[BenchmarkRow]:
    """Rows from the metrics json of a ``tools/test.py`` work dir.

    Keys ``{protocol}/{metric}`` give one row per protocol; unprefixed keys
    give a row with protocol ``'mmseg'`` (mmseg's ``IoUMetric``: ``mIoU``
    ...; ``mDice`` becomes ``Dice``) or :data:`PER_IMAGE_PROTOCOL`
    (``PerImageDiceMetric``: binary foreground ``Dice`` and ``IoU``).

    Args:
        work_dir: The ``--work-dir`` of ``tools/test.py``.
        method: Row method; default: the config's ``method_name``, else its
            model type and file stem.
        dataset: Row dataset; default: the config's ``dataset_name``, else
            its test dataset's name and data folder.

    The SAM weights and the stand-in flag come from the config's
    ``model.sam`` (``'none'`` for a model without SAM).
    """
    path = _test_metrics_file(work_dir)
    if path is None:
        raise BenchmarkFileError(work_dir, f'no {FINAL_METRICS_FILE} and no tools/test.py '
                                 'metrics ({timestamp}/{timestamp}.json)')
    data = _read_json(path)
    if not isinstance(data, dict):
        raise BenchmarkFileError(path, 'expected a JSON object of metrics')
    config_path, cfg = _config_of(work_dir)
    stem = osp.splitext(osp.basename(config_path or osp.normpath(work_dir)))[0]
    method = method or method_of_config(cfg, stem)
    dataset = dataset or dataset_of_config(cfg)
    sam_weights, stand_in = sam_weights_of_config(cfg)
    grouped: Dict[str, Dict[str, float]] = {}
    for key, value in data.items():
        protocol, _, name = key.rpartition('/')
        if name not in ('mIoU', 'FwIoU', 'mDice') and not name.startswith('IoU.'):
            continue
        name = 'Dice' if name == 'mDice' else name
        grouped.setdefault(protocol or 'mmseg', {})[name] = _check_number(value, key, path)
    if 'Dice' in data and 'IoU' in data and 'mIoU' not in data:
        grouped[PER_IMAGE_PROTOCOL] = {name: _check_number(data[name], name, path)
                                       for name in ('Dice', 'IoU')}
    rows = [BenchmarkRow(method=method, dataset=canonical_dataset(dataset), protocol=protocol,
                         metrics=metrics, stand_in_sam=stand_in,
                         sam_weights=sam_weights or ('none' if cfg is not None else ''),
                         origin=path)
            for protocol, metrics in grouped.items()
            if any(metrics.get(key) is not None for key in _HEADLINE_METRICS)]
    if not rows:
        raise BenchmarkFileError(path, 'holds no mIoU and no binary Dice/IoU (expected keys '
                                 'like "exclude_background/mIoU", or "Dice" and "IoU")')
    return rows


def collect(work_dirs: Sequence[str]) -> List[BenchmarkRow]:
    """Rows of every work dir: its ``final_metrics.json``, else its test metrics.

    A ``.json`` file instead of a work dir is read as a ``final_metrics.json``
    (e.g. a report's ``{name}.json``, to redraw its chart).

    Raises:
        BenchmarkFileError: a work dir is missing or holds no readable results.
    """
    rows = []
    for work_dir in work_dirs:
        if work_dir.endswith('.json') and osp.isfile(work_dir):
            rows.extend(load_final_metrics(work_dir))
            continue
        if not osp.isdir(work_dir):
            raise BenchmarkFileError(work_dir, 'work dir not found')
        final = osp.join(work_dir, FINAL_METRICS_FILE)
        if osp.exists(final):
            rows.extend(load_final_metrics(final))
        else:
            rows.extend(load_mmseg_test_metrics(work_dir))
    return rows


def published_benchmark_rows(datasets: Optional[Sequence[str]] = None) -> List[BenchmarkRow]:
    """Published numbers as rows (``published_source`` set), see :mod:`.published`."""
    return [BenchmarkRow(method=entry['method'], dataset=entry['dataset'],
                         protocol=entry['protocol'],
                         metrics={k: entry.get(k) for k in _SUMMARY_METRICS},
                         published_source=entry['source'], origin='published')
            for entry in published_rows(datasets)]


# --- tables ---------------------------------------------------------------
def _class_keys(rows: Sequence[BenchmarkRow]) -> List[str]:
    keys: List[str] = []
    for row in rows:
        keys.extend(k for k in row.metrics if k.startswith('IoU.') and k not in keys)
    return keys


def _score_keys(rows: Sequence[BenchmarkRow]) -> List[str]:
    """mIoU, FwIoU, the binary foreground IoU when a row has one, per-class IoUs."""
    binary = ['IoU'] if any(row.metrics.get('IoU') is not None for row in rows) else []
    return ['mIoU', 'FwIoU'] + binary + _class_keys(rows)


def table_header(rows: Sequence[BenchmarkRow]) -> List[str]:
    """Column names: identity, mIoU, FwIoU, (IoU,) per-class IoU, Dice, costs, status."""
    return (['method', 'dataset', 'protocol'] + _score_keys(rows) +
            ['Dice', 'train time (s)', 'peak memory (MiB)', 'trainable params', 'SAM weights',
             'seeds', 'status'])


def _fmt(value, digits: int = 2) -> str:
    if value is None:
        return '-'
    if isinstance(value, float) and math.isnan(value):
        return 'nan'
    return f'{value:.{digits}f}'


def table_records(rows: Sequence[BenchmarkRow]) -> List[List[str]]:
    """One list of formatted cells per row, in :func:`table_header` order."""
    records = []
    for row in rows:
        memory = None if row.peak_memory_bytes is None else row.peak_memory_bytes / 2**20
        params = '-' if row.trainable_params is None else f'{row.trainable_params:,}'
        records.append(
            [row.method, row.dataset, row.protocol] +
            [_fmt(row.metrics.get(k)) for k in _score_keys(rows)] +
            [_fmt(row.metrics.get('Dice')), _fmt(row.train_time_s, 1), _fmt(memory, 1), params,
             row.sam_weights or '-', ' '.join(map(str, row.seeds)) if row.seeds else '-',
             row.status])
    return records


def format_table(rows: Sequence[BenchmarkRow]) -> str:
    """A prettytable of the rows."""
    table = PrettyTable(table_header(rows))
    for record in table_records(rows):
        table.add_row(record)
    return table.get_string()


def row_notes(rows: Sequence[BenchmarkRow]) -> List[str]:
    """``method (dataset, protocols): notes`` of the rows with notes (seeds, memory kind).

    Rows of one method and dataset with the same notes (one per protocol)
    share one line.
    """
    protocols: Dict[tuple, List[str]] = {}
    for row in rows:
        if row.notes:
            protocols.setdefault((row.method, row.dataset, row.notes), []).append(row.protocol)
    return [f'{method} ({dataset}, {", ".join(names)}): {notes}'
            for (method, dataset, notes), names in protocols.items()]


def write_markdown(rows: Sequence[BenchmarkRow], path: str, *, title: str = 'Benchmark') -> None:
    """A Markdown table with a note on units and row kinds, then the rows' notes."""
    header = table_header(rows)
    lines = [f'# {title}', '',
             'Metrics in percent. "published, not re-run" rows are copied from their '
             'source, not reproduced here; "SAM = random stand-in" rows ran with a randomly '
             'initialised SAM and say nothing about SAM\'s quality. "SAM weights" names the '
             'weights (with the first 12 hex digits of their SHA-256) or "none" for methods '
             'without SAM; "seeds" lists the seeds a row is the mean of.', '',
             '| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(cell.replace('|', '\\|') for cell in record) + ' |'
              for record in table_records(rows)]
    notes = row_notes(rows)
    if notes:
        lines += ['', 'Notes:', ''] + [f'- {note}' for note in notes]
    with open(path, 'w', encoding='utf-8') as file:
        file.write('\n'.join(lines) + '\n')


def write_csv(rows: Sequence[BenchmarkRow], path: str) -> None:
    """A CSV with the table's columns (numbers as formatted in the table)."""
    with open(path, 'w', newline='', encoding='utf-8') as file:
        writer = csv.writer(file)
        writer.writerow(table_header(rows))
        writer.writerows(table_records(rows))


def write_reports(rows: Sequence[BenchmarkRow], out_dir: str, *,
                  stem: str = 'benchmark') -> Dict[str, str]:
    """Write ``{stem}.md``, ``{stem}.csv``, ``{stem}.png`` and ``{stem}.json`` in ``out_dir``.

    Returns:
        dict: format -> path written.
    """
    if not rows:
        raise ValueError('write_reports: no rows to report')
    os.makedirs(out_dir, exist_ok=True)
    paths = {ext: osp.join(out_dir, f'{stem}.{ext}') for ext in ('md', 'csv', 'png', 'json')}
    write_markdown(rows, paths['md'], title=stem)
    write_csv(rows, paths['csv'])
    plot_rows(rows, paths['png'], title=stem)
    with open(paths['json'], 'w', encoding='utf-8') as file:
        json.dump([dict(row.to_json(), status=row.status) for row in rows], file, indent=2)
    return paths
