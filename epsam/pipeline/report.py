"""Step 7's outputs for people and for the harness, the same for every task.

``results.md`` (notes and the table as Markdown) and ``results.json`` (the
evaluation record) in the evaluation folder, and the work dir's
``final_metrics.json``: one entry per protocol of the final method, in the
benchmark harness's format (:mod:`epsam.benchmarking.harness`).
"""
import copy
import os.path as osp
from typing import Dict, List, Optional

from prettytable import PrettyTable, TableStyle

from epsam.benchmarking.memory import peak_rss_bytes
from epsam.fileio.atomic_io import atomic_write_json, atomic_write_text

from .context import PipelineContext
from .scoring import WHOLE_PATCH_FRACTION, Scoring

COLLAPSE_TAG = ' [COLLAPSED: whole patch]'

#: Where a multi-class run's test image labels come from (``split_labels``).
LABEL_NOTES = {
    'filename': 'test image labels: weak labels in the file names',
    'mask': 'test image labels: derived from the ground-truth masks (oracle image labels)',
    'prediction': 'test image labels: the classifier\'s predictions (score >= 0.5); no label '
                  'of the test split is used'
}


def _cell(column, value, images: int) -> str:
    return '-' if value is None else column.fmt.format(value=value, images=images)


def results_table(record: Dict, scoring: Scoring) -> PrettyTable:
    """One row per (method, protocol): the scoring's metric columns, then the seconds.

    Baselines come first; a collapsed SAM is tagged in its name; the protocol
    column appears when the scoring has more than one protocol.
    """
    rows = record['rows']
    columns = scoring.columns(rows)
    protocols = len({row['protocol'] for row in rows}) > 1
    table = PrettyTable(['method', *(['protocol'] if protocols else []),
                         *(column.header for column in columns), 'train (s)', 'inference (s)'])
    sam = f'SAM: {sam_label(record)}' if record.get('use_sam', True) else 'no SAM'
    table.title = (f"{record['title']} on {record['split']} ({record['images']} "
                   f"{record['image_kind']}); {sam}")
    for row in rows:
        table.add_row([row['method'] + (COLLAPSE_TAG if row.get('collapsed') else ''),
                       *([row['protocol']] if protocols else []),
                       *(_cell(c, row['metrics'].get(c.key), record['images'])
                         for c in columns),
                       f"{row['train_seconds']:.1f}", f"{row['infer_seconds']:.1f}"])
    table.align['method'] = 'l'
    return table


def collapse_note(record: Dict) -> List[str]:
    """A line naming the SAM rows that predict (nearly) the whole patch on most images."""
    names = list(dict.fromkeys(row['method'] for row in record['rows'] if row.get('collapsed')))
    if not names:
        return []
    return [f'COLLAPSE: {", ".join(names)} predict(s) at least {WHOLE_PATCH_FRACTION:.0%} of '
            'the patch on most test images, i.e. the whole-patch baseline, not a segmentation']


def sam_label(record: Dict) -> str:
    """The SAM's short name in a table title (records older than the label say less)."""
    if 'sam_label' in record:
        return record['sam_label']
    return 'RANDOM STAND-IN' if record['stand_in_sam'] else 'checkpoint'


def selection_note(record: Dict) -> str:
    """Whether pixel labels selected the checkpoints (every report says so)."""
    if record['pixel_labels_for_selection']:
        return ('Checkpoints were SELECTED WITH GROUND-TRUTH PIXEL LABELS '
                '(model_selection.use_pixel_labels=True): not weakly supervised.')
    return 'No pixel label was used for training or model selection.'


def notes(record: Dict) -> List[str]:
    """The report's notes: the SAM, the protocol, the test labels, the selection, collapses."""
    labels = [LABEL_NOTES[record['test_labels']] + '.'] if record.get('test_labels') else []
    return [record['sam'], record['protocol'], *labels, selection_note(record),
            *collapse_note(record)]


def as_sentences(lines: List[str]) -> str:
    """The report's note lines as one text, each line ending with a full stop."""
    return ' '.join(line if line.endswith('.') else line + '.' for line in lines)


def write_record_files(out_dir: str, title: str, lines: List[str], table: PrettyTable,
                       record: Dict) -> None:
    """``results.md`` (title, notes, the table as Markdown) and ``results.json``."""
    markdown_table = copy.deepcopy(table)
    markdown_table.set_style(TableStyle.MARKDOWN)
    markdown = [f'# {title}', ''] + [f'- {line}' for line in lines]
    markdown += ['', markdown_table.get_string(), '']
    atomic_write_text(osp.join(out_dir, 'results.md'), '\n'.join(markdown))
    atomic_write_json(osp.join(out_dir, 'results.json'), record)


def write_results(ctx: PipelineContext, record: Dict, scoring: Scoring, out_dir: str,
                  method_name: str, trainable_params: Optional[int]) -> str:
    """Write ``results.md``/``.json`` in ``out_dir`` and the work dir's ``final_metrics.json``.

    Args:
        ctx: The pipeline context.
        record: The evaluation record (:func:`~.evaluation.evaluate`).
        scoring: The task's scoring (table columns, harness metrics).
        out_dir: The evaluation folder.
        method_name: The harness's name of the method (the config's
            ``method_name`` wins).
        trainable_params: Trainable parameters of the final method.

    Returns:
        The table as text.
    """
    table = results_table(record, scoring)
    lines = notes(record)
    write_record_files(out_dir, f"{record['title']} pipeline results", lines, table, record)
    final_method = record['rows'][-1]['method']
    text = as_sentences(lines + [f'Final method: {final_method}',
                                 'peak memory: pipeline process RSS (CPU)'])
    atomic_write_json(osp.join(ctx.work_dir, 'final_metrics.json'), [dict(
        method=ctx.cfg.get('method_name', method_name),
        dataset=ctx.cfg.get('dataset_name', ''), protocol=row['protocol'],
        metrics=scoring.harness_metrics(row['metrics']), train_time_s=row['train_seconds'],
        peak_memory_bytes=peak_rss_bytes(), trainable_params=trainable_params, notes=text,
        stand_in_sam=record['stand_in_sam'],
        sam_weights=ctx.sam_provenance if record['use_sam'] else 'none')
        for row in record['rows'] if row['method'] == final_method])
    return table.get_string()
