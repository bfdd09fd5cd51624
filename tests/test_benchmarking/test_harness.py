"""The benchmark harness: collection, tables, reports, published rows, tools/benchmark.py."""
import csv
import json
import math
import os.path as osp
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from epsam.benchmarking.harness import (BenchmarkFileError, collect, format_table,
                                        load_final_metrics, published_benchmark_rows, table_header,
                                        write_reports)
from epsam.benchmarking.published import PUBLISHED_RESULTS, canonical_dataset
from tests.conftest import REPO_ROOT, run_tool

BENCHMARK = REPO_ROOT / 'tools' / 'benchmark.py'


@pytest.fixture(scope='module')
def tool():
    """tools/benchmark.py as a module, to call its main() in-process."""
    sys.path.insert(0, str(REPO_ROOT / 'tools'))
    try:
        import benchmark
    finally:
        sys.path.remove(str(REPO_ROOT / 'tools'))
    return benchmark


def _final(method='EP-SAM', protocol='exclude_background', miou=61.5, **extra):
    data = dict(method=method, dataset='BCSSWSSSDataset', protocol=protocol,
                metrics={'mIoU': miou, 'FwIoU': 70.25, 'Dice': 74.0, 'IoU.TUM': 80.0,
                         'IoU.STR': 55.5, 'IoU.LYM': 49.0, 'IoU.NEC': float('nan')},
                train_time_s=123.4, peak_memory_bytes=3 * 2**30, trainable_params=4_000_000,
                notes='', stand_in_sam=False)
    data.update(extra)
    return data


def _write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.fixture
def work_dirs(tmp_path):
    """One pipeline dir (stand-in SAM), one list-of-protocols dir, one tools/test.py dir."""
    pipeline = tmp_path / 'pipeline'
    _write(pipeline / 'final_metrics.json', _final(stand_in_sam=True, notes='demo'))
    both = tmp_path / 'both'
    _write(both / 'final_metrics.json',
           [_final('CAM + DeepLabV3+', miou=40.0),
            _final('CAM + DeepLabV3+', protocol='full_matrix', miou=38.0)])
    tested = tmp_path / 'tested'
    _write(tested / 'seg_tiny_bcss.py', "test_dataloader = dict(dataset=dict("
           "type='BCSSWSSSDataset'))\n")
    _write(tested / '20240101_000000' / '20240101_000000.json',
           {'full_matrix/mIoU': 33.0, 'full_matrix/FwIoU': 35.0, 'full_matrix/mDice': 44.0,
            'full_matrix/IoU.TUM': 50.0, 'full_matrix/IoU.BACK': 90.0, 'data_time': 0.1})
    # an older test run and a training scalars file must not be picked
    _write(tested / '20230101_000000' / '20230101_000000.json', {'full_matrix/mIoU': 1.0})
    _write(tested / '20240101_000000' / 'vis_data' / 'scalars.json', '{"loss": 1}\n')
    return [str(pipeline), str(both), str(tested)]


def test_collect_rows_from_every_kind_of_work_dir(work_dirs):
    rows = collect(work_dirs)
    assert [(r.method, r.protocol, r.metrics['mIoU']) for r in rows] == [
        ('EP-SAM', 'exclude_background', 61.5), ('CAM + DeepLabV3+', 'exclude_background', 40.0),
        ('CAM + DeepLabV3+', 'full_matrix', 38.0), ('seg_tiny_bcss', 'full_matrix', 33.0)]
    assert {r.dataset for r in rows} == {'BCSS-WSSS'}
    assert rows[0].stand_in_sam and 'stand-in' in rows[0].status
    assert rows[1].status == 'measured' and rows[1].trainable_params == 4_000_000
    tested = rows[3]
    assert tested.metrics == {'mIoU': 33.0, 'FwIoU': 35.0, 'Dice': 44.0, 'IoU.TUM': 50.0,
                              'IoU.BACK': 90.0}
    assert tested.train_time_s is None and tested.origin.endswith('20240101_000000.json')


def test_table_csv_markdown_and_png(work_dirs, tmp_path):
    rows = collect(work_dirs)
    header = table_header(rows)
    assert header[:5] == ['method', 'dataset', 'protocol', 'mIoU', 'FwIoU']
    assert header[5:10] == ['IoU.TUM', 'IoU.STR', 'IoU.LYM', 'IoU.NEC', 'IoU.BACK']
    assert header[10:] == ['Dice', 'train time (s)', 'peak memory (MiB)', 'trainable params',
                           'SAM weights', 'seeds', 'status']
    table = format_table(rows)
    assert 'seg_tiny_bcss' in table and '61.50' in table and 'IoU.BACK' in table

    paths = write_reports(rows, str(tmp_path / 'report'), stem='bcss')
    with open(paths['csv'], newline='') as file:
        records = list(csv.DictReader(file))
    assert len(records) == 4
    first = records[0]
    assert first['method'] == 'EP-SAM' and first['mIoU'] == '61.50'
    assert first['IoU.NEC'] == 'nan' and first['IoU.BACK'] == '-'
    assert first['peak memory (MiB)'] == '3072.0' and first['trainable params'] == '4,000,000'
    assert first['train time (s)'] == '123.4' and 'stand-in' in first['status']
    assert records[3]['train time (s)'] == '-' and records[3]['Dice'] == '44.00'

    markdown = open(paths['md']).read().splitlines()
    table_lines = [line for line in markdown if line.startswith('|')]
    assert len(table_lines) == 2 + 4
    assert table_lines[0].startswith('| method | dataset | protocol | mIoU |')
    assert '| CAM + DeepLabV3+ | BCSS-WSSS | full_matrix | 38.00 |' in table_lines[4]

    image = np.asarray(Image.open(paths['png']))
    assert image.ndim == 3 and image.shape[0] > 400 and image.shape[1] < 2000
    assert image[..., :3].std() > 0  # not blank
    saved = json.load(open(paths['json']))
    assert saved[0]['method'] == 'EP-SAM' and saved[0]['stand_in_sam'] is True


def test_published_rows_are_marked_with_their_source():
    rows = published_benchmark_rows(['BCSSWSSSDataset'])
    assert {r.method for r in rows} == {'PistoSeg (re-trained)', 'FProtoSeg', 'GAT+GCMP'}
    assert all(r.status.startswith('published, not re-run (') for r in rows)
    assert all(' et al., "' in r.published_source for r in rows)  # the papers themselves
    assert 'AAAI 2023' in next(r.published_source for r in rows if r.method.startswith('Pisto'))
    pisto = next(r for r in rows if r.method.startswith('PistoSeg'))
    assert pisto.metrics == {'mIoU': 70.75, 'FwIoU': 75.76} and pisto.protocol == 'as published'
    assert len(published_benchmark_rows()) == len(PUBLISHED_RESULTS) == 7
    assert [r.metrics['mIoU'] for r in published_benchmark_rows(['wsss4luad'])] == [75.30, 84.13]
    assert published_benchmark_rows(['synthetic BCSS']) == []
    assert canonical_dataset('LUADHistoSegDataset') == 'LUAD-HistoSeg'


def test_binary_rows_show_their_foreground_iou(tmp_path):
    path = _write(tmp_path / 'final_metrics.json',
                  dict(method='EP-SAM', dataset='synthetic Camelyon', protocol='foreground',
                       metrics=dict(Dice=80.0, IoU=66.7)))
    rows = load_final_metrics(str(path))
    assert 'IoU' in table_header(rows)
    assert '66.70' in format_table(rows)


@pytest.mark.parametrize('content, message', [
    ('{"method": "x", ', 'not valid JSON'),
    (json.dumps(dict(_final(), metrics={'FwIoU': 3.0})), 'has none of mIoU, IoU, Dice'),
    (json.dumps(dict(_final(), method='')), '"method" must be a non-empty string'),
    (json.dumps(dict(_final(), metrics={'mIoU': 'high'})), 'metrics\\["mIoU"\\] must be a number'),
    (json.dumps(dict(_final(), trainable_params=1.5)), '"trainable_params" must be an integer'),
    (json.dumps(dict(_final(), stand_in_sam='yes')), '"stand_in_sam" must be true or false'),
    (json.dumps([]), 'empty list'),
])
def test_corrupt_final_metrics_name_the_file(tmp_path, content, message):
    path = _write(tmp_path / 'run' / 'final_metrics.json', content)
    with pytest.raises(BenchmarkFileError, match=message) as info:
        collect([str(tmp_path / 'run')])
    assert str(path) in str(info.value)


def test_missing_results_name_the_work_dir(tmp_path):
    with pytest.raises(BenchmarkFileError, match='work dir not found') as info:
        collect([str(tmp_path / 'nope')])
    assert str(tmp_path / 'nope') in str(info.value)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BenchmarkFileError, match='no final_metrics.json and no tools/test.py'):
        collect([str(tmp_path / 'empty')])
    _write(tmp_path / 'nomiou' / '20240101_000000' / '20240101_000000.json', {'aAcc': 3.0})
    with pytest.raises(BenchmarkFileError, match='holds no mIoU'):
        collect([str(tmp_path / 'nomiou')])


@pytest.mark.slow
def test_cli_collect_with_published(work_dirs, tmp_path):
    out = tmp_path / 'out'
    proc = run_tool([BENCHMARK, '--collect', *work_dirs, '--with-published',
                     '--out-dir', out, '--name', 'cli'])
    assert 'published, not re-run' in proc.stdout and 'seg_tiny_bcss' in proc.stdout
    with open(out / 'cli.csv', newline='') as file:
        records = list(csv.DictReader(file))
    published = [r for r in records if r['status'].startswith('published, not re-run')]
    assert len(records) == 4 + 3 and len(published) == 3  # BCSS-WSSS rows only
    assert {'md', 'csv', 'png', 'json'} <= {p.split('.')[-1] for p in map(str, out.iterdir())}


def test_cli_reports_a_corrupt_file_as_an_error_line(tool, tmp_path, capsys):
    path = _write(tmp_path / 'bad' / 'final_metrics.json', 'not json')
    assert tool.main(['--collect', str(tmp_path / 'bad'), '--out-dir', str(tmp_path / 'o')]) == 2
    assert f'error: {path}: not valid JSON' in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()


def _set_file(tmp_path, entries):
    path = tmp_path / 'myset.py'
    path.write_text('entries = ' + repr(entries) + '\n')
    return path


WRITER = textwrap.dedent('''
    import json, sys
    work_dir, method, stand_in = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
    json.dump(dict(method=method, dataset='BCSS-WSSS', protocol='exclude_background',
                   metrics={'mIoU': 50.0 + len(method), 'IoU.TUM': 60.0},
                   stand_in_sam=stand_in), open(work_dir + '/final_metrics.json', 'w'))
''')


def test_cli_run_command_entries(tool, tmp_path, capsys):
    script = tmp_path / 'writer.py'
    script.write_text(WRITER)
    entries = [
        dict(name='first', method='Pipeline A', runner='command',
             command=['{python}', str(script), '{work_dir}', 'Pipeline A', '1']),
        dict(name='second', method='Segmenter B', runner='command',
             command=['{python}', str(script), '{work_dir:first}/../second', 'Segmenter B', '0']),
    ]
    root = tmp_path / 'root'
    assert tool.main(['--run', str(_set_file(tmp_path, entries)), '--work-root', str(root)]) == 0
    stdout = capsys.readouterr().out
    assert 'Pipeline A' in stdout and 'Segmenter B' in stdout
    with open(root / 'report' / 'myset.csv', newline='') as file:
        records = list(csv.DictReader(file))
    assert [(r['method'], r['mIoU']) for r in records] == [('Pipeline A', '60.00'),
                                                           ('Segmenter B', '61.00')]
    assert 'stand-in' in records[0]['status'] and records[1]['status'] == 'measured'
    assert (root / 'first' / 'benchmark_command.log').exists()


@pytest.mark.parametrize('entries, message', [
    ([dict(name='a', method='A', runner='magic', config='x.py')], 'runner must be one of'),
    ([dict(name='a', method='A', runner='train_test')], 'needs "config"'),
    ([dict(name='a b', method='A', runner='command', command=['x'])], '"name" must be unique'),
    ([dict(name='a', method='A', runner='pipeline', config='configs/none.py')],
     'config not found: configs/none.py'),
    ([dict(name='a', method='A', runner='command', command=[sys.executable, '-c', 'pass'])],
     'finished without writing it'),
    ([dict(name='a', method='A', runner='pipeline', config='x.py', seeds=[0, 1])],
     "\"seeds\" works with runner 'train_test' only"),
    ([dict(name='a', method='A', runner='train_test', config='x.py', seeds=[0, 0])],
     '"seeds" must be a non-empty list of distinct non-negative integers'),
    ([dict(name='a', method='A', runner='train_test', config='x.py', seeds=3)],
     '"seeds" must be a non-empty list'),
])
def test_cli_run_rejects_bad_sets(tool, tmp_path, capsys, entries, message):
    path = _set_file(tmp_path, entries)
    assert tool.main(['--run', str(path), '--work-root', str(tmp_path / 'r')]) == 2
    err = capsys.readouterr().err
    # the message names the set file, or the file the entry failed to write
    assert err.startswith(f'error: {tmp_path}') and message in err, err


def test_cli_run_seeds_trains_once_per_seed_and_reports_the_mean(
        tool, tmp_path, monkeypatch, capsys):
    calls = []

    def fake_train_test(entry, work_dir, options, stand_in):
        seed = int(options[-1].split('=')[1])
        calls.append((osp.relpath(work_dir, tmp_path), options))
        _write(Path(work_dir) / 'final_metrics.json', dict(
            method=entry['method'], dataset='synthetic Camelyon',
            protocol='per-image foreground Dice/IoU',
            metrics={'IoU': 70.0 + 2 * seed, 'Dice': 80.0 + seed}, train_time_s=10.0 + seed,
            peak_memory_bytes=(100 + seed) * 2**20, trainable_params=5, stand_in_sam=stand_in))

    monkeypatch.setattr(tool, 'run_train_test', fake_train_test)
    entries = [dict(name='cad', method='SAM + CAD', runner='train_test', config='tools/test.py',
                    cfg_options=['model.cache={work_dir}/cache'], seeds=[0, 1, 2],
                    stand_in_sam=True)]
    root = tmp_path / 'root'
    set_file = _set_file(tmp_path, entries)
    assert tool.main(['--run', str(set_file), '--work-root', str(root)]) == 0
    assert calls == [(f'root/cad/seed{s}', [f'model.cache={root}/cad/seed{s}/cache',
                                            f'randomness.seed={s}']) for s in (0, 1, 2)]
    [row] = load_final_metrics(str(root / 'cad' / 'final_metrics.json'))
    assert row.metrics == {'IoU': 72.0, 'Dice': 81.0}
    assert row.train_time_s == 11.0 and row.peak_memory_bytes == 102 * 2**20
    assert row.stand_in_sam and row.trainable_params == 5
    assert row.notes == ('mean of 3 seeds (0, 1, 2): IoU std 2.00 (range 70.00-74.00), '
                         'Dice std 1.00 (range 80.00-82.00)')
    assert 'Row notes (seed spread' in capsys.readouterr().out
    assert '- SAM + CAD (synthetic Camelyon, per-image foreground Dice/IoU): mean of 3 seeds' \
        in (root / 'report' / 'myset.md').read_text()
    # A rerun with --skip-existing redoes only a seed whose results are missing.
    (root / 'cad' / 'final_metrics.json').unlink()
    (root / 'cad' / 'seed1' / 'final_metrics.json').unlink()
    calls.clear()
    assert tool.main(['--run', str(set_file), '--work-root', str(root), '--skip-existing']) == 0
    assert [c[0] for c in calls] == ['root/cad/seed1']


def test_row_notes_share_one_line_per_method_and_note(work_dirs):
    from epsam.benchmarking.harness import row_notes
    pipeline, both, _ = work_dirs
    rows = collect([both, pipeline])
    for row in rows[:2]:
        row.notes = 'CPU RSS'
    assert row_notes(rows) == [
        'CAM + DeepLabV3+ (BCSS-WSSS, exclude_background, full_matrix): CPU RSS',
        'EP-SAM (BCSS-WSSS, exclude_background): demo']


def test_mean_over_seeds_keeps_nan_and_refuses_mismatched_runs():
    from epsam.benchmarking.harness import BenchmarkRow
    from epsam.benchmarking.seeds import SeedMismatchError, mean_over_seeds

    def row(miou, protocol='exclude_background', params=7, **metrics):
        return BenchmarkRow(method='M', dataset='D', protocol=protocol,
                            metrics=dict(mIoU=miou, **metrics), trainable_params=params)

    [mean] = mean_over_seeds([[row(40.0, **{'IoU.NEC': float('nan')})],
                              [row(50.0, **{'IoU.NEC': 3.0, 'IoU.TUM': 1.0})]], [4, 9])
    assert mean.metrics['mIoU'] == 45.0 and math.isnan(mean.metrics['IoU.NEC'])
    assert 'IoU.TUM' not in mean.metrics  # not measured in every run
    assert mean.notes.startswith('mean of 2 seeds (4, 9): mIoU std 7.07 (range 40.00-50.00)')
    assert mean.train_time_s is None and mean.peak_memory_bytes is None
    with pytest.raises(SeedMismatchError, match='seed 9 gave rows'):
        mean_over_seeds([[row(1.0)], [row(1.0, protocol='full_matrix')]], [4, 9])
    with pytest.raises(SeedMismatchError, match='different numbers of parameters'):
        mean_over_seeds([[row(1.0)], [row(1.0, params=8)]], [4, 9])
    with pytest.raises(SeedMismatchError, match='2 runs for seeds'):
        mean_over_seeds([[row(1.0)], [row(1.0)]], [4])


def test_shipped_benchmark_set_lists_existing_segmenter_configs(tool):
    bench = tool.load_benchmark_set('synthetic_bcss')
    segmenters = [e for e in bench['entries'] if e['runner'] == 'train_test']
    assert segmenters, 'the synthetic_bcss set has no segmenter entries'
    for entry in segmenters:
        assert osp.isfile(REPO_ROOT / entry['config']), entry['config']
        # Each segmenter run trains on pseudo-labels another entry of the set wrote.
        assert any('{work_dir:' in option for option in entry['cfg_options'])


@pytest.mark.slow
def test_cli_run_train_test_entry_on_the_tiny_segmenter_config(tool, tmp_path):
    from tests.test_configs.test_segmenter_configs import make_tiny_pseudo_label_run
    run = make_tiny_pseudo_label_run(str(tmp_path))
    config = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny_1xb8-200it_synthetic-bcss-128x128.py'
    entries = [dict(name='tiny', method='Tiny DeepLabV3+', runner='train_test', config=config,
                    dataset='synthetic BCSS', cfg_options=run['cfg_options'])]
    root = tmp_path / 'root'
    assert tool.main(['--run', str(_set_file(tmp_path, entries)), '--work-root', str(root)]) == 0
    rows = load_final_metrics(str(root / 'tiny' / 'final_metrics.json'))
    assert sorted(r.protocol for r in rows) == ['exclude_background', 'full_matrix']
    for row in rows:
        assert row.method == 'Tiny DeepLabV3+' and row.dataset == 'synthetic BCSS'
        assert row.train_time_s > 0 and row.peak_memory_bytes > 2**20
        assert 700_000 < row.trainable_params < 900_000  # the tiny DeepLabV3+
        assert 0.0 <= row.metrics['mIoU'] <= 100.0 and 'IoU.TUM' in row.metrics
    assert 'IoU.BACK' in next(r for r in rows if r.protocol == 'full_matrix').metrics
    assert (root / 'report' / 'myset.png').is_file()
