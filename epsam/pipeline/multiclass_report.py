"""The multi-class pipeline's outputs: table, ``results.md``/``.json``, ``final_metrics.json``."""
import os.path as osp
from typing import Dict, List, Optional

from prettytable import PrettyTable

from epsam.benchmarking.memory import peak_rss_bytes
from epsam.fileio.atomic_io import atomic_write_json

from .context import PipelineContext
from .report import as_sentences, sam_label, selection_note, write_record_files

LABEL_NOTES = {
    'filename': 'test image labels: weak labels in the file names',
    'mask': 'test image labels: derived from the ground-truth masks (oracle image labels)',
    'prediction': 'test image labels: the classifier\'s predictions (score >= 0.5); no label '
                  'of the test split is used'
}


def _cell(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:.2f}'


def results_table(record: Dict) -> PrettyTable:
    """One row per (method, protocol): mIoU, FwIoU, Dice, per-class IoU, seconds."""
    class_keys: List[str] = []
    for row in record['rows']:
        class_keys += [k for k in row['metrics'] if k.startswith('IoU.') and k not in class_keys]
    table = PrettyTable(['method', 'protocol', 'mIoU', 'FwIoU', 'Dice', *class_keys,
                         'train (s)', 'inference (s)'])
    sam = f'SAM: {sam_label(record)}' if record['use_sam'] else 'no SAM'
    table.title = (f"multi-class WSSS on {record['split']} ({record['images']} patches); {sam}")
    for row in record['rows']:
        metrics = row['metrics']
        table.add_row([row['method'], row['protocol'],
                       *(_cell(metrics.get(k)) for k in ('mIoU', 'FwIoU', 'Dice', *class_keys)),
                       f"{row['train_seconds']:.1f}", f"{row['infer_seconds']:.1f}"])
    table.align['method'] = 'l'
    return table


def notes(record: Dict) -> List[str]:
    lines = [record['sam'] if record['use_sam'] else 'No SAM (CAM class maps only).',
             'Protocols: exclude_background (ground-truth background pixels dropped) and '
             'full_matrix (background kept in the confusion matrix); means over the tissue '
             f"classes; {record['undecided']}.",
             LABEL_NOTES[record['test_labels']] + '.', selection_note(record)]
    return lines


def write_class_results(ctx: PipelineContext, record: Dict, out_dir: str,
                        trainable_params: Optional[int]) -> str:
    """Write ``results.md``/``.json`` in ``out_dir`` and the work dir's ``final_metrics.json``.

    ``final_metrics.json`` holds one entry per protocol for the final method
    (the last tuned SAM, or the CAM class maps when ``use_sam=False``), in
    the harness's format (:mod:`epsam.benchmarking.harness`).
    """
    table = results_table(record)
    write_record_files(out_dir, 'Multi-class WSSS pipeline results', notes(record), table,
                       record)
    final_method = record['rows'][-1]['method']
    final = [row for row in record['rows'] if row['method'] == final_method]
    text = as_sentences(notes(record) + [f'Final method: {final_method}',
                                         'peak memory: pipeline process RSS (CPU)'])
    atomic_write_json(osp.join(ctx.work_dir, 'final_metrics.json'), [dict(
        method=ctx.cfg.get('method_name', 'EP-SAM (multi-class)'),
        dataset=ctx.cfg.get('dataset_name', ''), protocol=row['protocol'],
        metrics=row['metrics'], train_time_s=row['train_seconds'],
        peak_memory_bytes=peak_rss_bytes(), trainable_params=trainable_params, notes=text,
        stand_in_sam=record['stand_in_sam'],
        sam_weights=ctx.sam_provenance if record['use_sam'] else 'none') for row in final])
    return table.get_string()
