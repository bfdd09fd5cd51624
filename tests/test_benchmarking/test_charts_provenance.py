"""Benchmark charts (a panel per dataset, error bars) and row provenance."""
import json

import matplotlib.pyplot as plt
import pytest
import torch

from epsam.benchmarking.charts import make_figure
from epsam.benchmarking.harness import BenchmarkRow, collect, write_reports
from epsam.benchmarking.provenance import weights_label
from epsam.benchmarking.seeds import mean_over_seeds
from epsam.models.sam.building.architecture import SamWeights


def _row(method, dataset, value, **extra):
    return BenchmarkRow(method=method, dataset=dataset, protocol='exclude_background',
                        metrics=dict(mIoU=value), **extra)


def _seeded(method, dataset, values):
    runs = [[_row(method, dataset, v, sam_weights='stand-in (random tiny)', stand_in_sam=True)]
            for v in values]
    return mean_over_seeds(runs, list(range(len(values))))[0]


def test_mean_over_seeds_keeps_seeds_sd_and_weights():
    row = _seeded('SAM + CAD', 'synthetic Camelyon', [70.0, 72.0, 74.0])
    assert row.seeds == [0, 1, 2] and row.metrics_std == {'mIoU': 2.0}
    assert row.sam_weights == 'stand-in (random tiny)' and row.stand_in_sam


def test_chart_has_one_panel_per_dataset_and_error_bars_on_seeded_rows():
    rows = [_row('CAM (no SAM)', 'synthetic BCSS', 40.0, sam_weights='none'),
            _seeded('SAM + CAD', 'synthetic BCSS', [50.0, 54.0]),
            _row('PistoSeg', 'BCSS-WSSS', 70.75, published_source='a paper'),
            _row('EP-SAM', 'synthetic Camelyon', 80.0)]
    fig = make_figure(rows)
    try:
        axes = fig.get_axes()
        assert [ax.get_title(loc='left') for ax in axes] == [
            'synthetic BCSS', 'BCSS-WSSS', 'synthetic Camelyon']
        bcss = axes[0]
        assert len(bcss.patches) == 2  # one bar per row of the dataset
        texts = [t.get_text() for t in bcss.texts]
        assert texts == ['40.0', '52.0 ± 2.8']  # values printed, SD on the seeded row
        # error bars: the seeded bar's line spans mean ± SD; no bar on the unseeded row
        from matplotlib.container import ErrorbarContainer
        errorbars = [c for c in bcss.containers if isinstance(c, ErrorbarContainer)]
        [errorbar] = errorbars[0].lines[2]
        [span] = [segment[:, 0] for segment in errorbar.get_segments()]  # seeded row only
        assert span == pytest.approx([52.0 - 2 ** 1.5, 52.0 + 2 ** 1.5])
        assert axes[1].patches[0].get_hatch() == '//'  # published
        top = max(bcss.get_yticklabels(), key=lambda label: label.get_position()[1])
        assert top.get_text().startswith('CAM (no SAM)')  # first row on top
        width, _ = fig.get_size_inches()
        assert width == 10
    finally:
        plt.close(fig)


def test_thirty_rows_keep_a_paper_width(tmp_path):
    rows = [_row(f'method number {i} with a long descriptive name that must wrap', 'D', 30.0 + i)
            for i in range(32)]
    paths = write_reports(rows, str(tmp_path), stem='many')
    from PIL import Image
    width, height = Image.open(paths['png']).size
    assert width < 1700 and height > width  # grows down, not sideways


def test_report_json_round_trips_provenance(tmp_path):
    rows = [_seeded('SAM + CAD', 'synthetic Camelyon', [70.0, 72.0]),
            _row('FProtoSeg', 'BCSS-WSSS', 71.21, published_source='Ding et al.')]
    paths = write_reports(rows, str(tmp_path), stem='r')
    again = collect([paths['json']])
    assert again[0].seeds == [0, 1] and again[0].metrics_std['mIoU'] == pytest.approx(2 ** 0.5)
    assert again[0].stand_in_sam and again[0].sam_weights == 'stand-in (random tiny)'
    assert again[1].published_source == 'Ding et al.'
    assert again[1].status.startswith('published, not re-run')
    record = json.load(open(paths['json']))[0]
    assert record['sam_weights'] == 'stand-in (random tiny)' and record['seeds'] == [0, 1]
    markdown = open(paths['md']).read()
    assert '| SAM weights | seeds | status |' in markdown and '| 0 1 |' in markdown


def test_weights_label_names_the_file_and_its_sha256(tmp_path):
    path = tmp_path / 'sam.pth'
    torch.save({}, path)
    from epsam.fileio.fingerprints import file_sha256
    label = weights_label(SamWeights(path=str(path), description=str(path)))
    assert label == f'{path}, sha256 {file_sha256(str(path))[:12]}'
    stand_in = SamWeights(path=None, description='random')
    assert weights_label(stand_in, 'tiny') == 'stand-in (random tiny)'


def test_test_tool_work_dir_rows_name_method_dataset_and_sam(tmp_path):
    """A tools/test.py work dir of a SAM config: stand-in flag and names from its config."""
    work = tmp_path / 'work'
    (work / '20240101_000000').mkdir(parents=True)
    (work / 'sam-cad_tiny.py').write_text(
        "model = dict(type='SamTuningModel', sam=dict(variant='tiny'))\n"
        "test_dataloader = dict(dataset=dict(type='SamMaskDataset', "
        "source_dataset='CamelyonPatchDataset', data_root='data/synthetic_camelyon'))\n")
    (work / '20240101_000000' / '20240101_000000.json').write_text(
        json.dumps({'Dice': 80.0, 'IoU': 66.0}))
    [row] = collect([str(work)])
    assert row.method == 'SamTuningModel (sam-cad_tiny)'
    assert row.dataset == 'CamelyonPatchDataset (synthetic_camelyon)'
    assert row.stand_in_sam and row.sam_weights == 'stand-in (random tiny)'
    assert 'stand-in' in row.status
