"""Stitched slide inference: the library pipeline with a known predictor, and tools/wsi/infer.py."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from epsam.wsi import (SlideStitcher, TileCache, WSIError, detect_tissue, open_slide, output_paths,
                       plan_tiles, predict_tiles, stitch_cached_tiles, tile_layout,
                       write_slide_outputs)
from epsam.wsi.synthetic import TUMOUR_RGB
from tests.conftest import REPO_ROOT

from .conftest import TUMOUR_BOX, load_tool

tifffile = pytest.importorskip('tifffile')
TINY_CFG = str(REPO_ROOT / 'configs/_base_/models/adl_resnet18_cam_tiny.py')


class PurpleDetector:
    """A known tile predictor: probability 1 on tumour-coloured pixels."""

    calls = 0

    def __call__(self, tiles):
        type(self).calls += len(tiles)
        distance = np.abs(tiles.astype(int) - TUMOUR_RGB).max(axis=-1)
        return (distance <= 20).astype(np.float32)


def _polygon_area(ring):
    ring = np.asarray(ring)
    return 0.5 * abs(np.dot(ring[:, 0], np.roll(ring[:, 1], 1))
                     - np.dot(ring[:, 1], np.roll(ring[:, 0], 1)))


@pytest.mark.parametrize('stride', [64, 32])
def test_pipeline_with_a_known_predictor(slide_path, tmp_path, stride):
    with open_slide(str(slide_path)) as reader:
        layout = tile_layout(reader, 64, level=1, stride=stride)  # 256 level-0 px tiles
        tiles = plan_tiles(reader, layout, detect_tissue(reader), min_tissue=0.1,
                           cover_edges=True)
        stitcher = SlideStitcher(reader.dimensions, 16.0, reader.level_dimensions[2])
        cache = TileCache(str(tmp_path / 'tiles'), dict(stride=stride))
        cache.prepare(write=True)
        PurpleDetector.calls = 0
        assert predict_tiles(reader, layout, tiles, PurpleDetector(), stitcher, cache,
                             batch_size=5, progress=False) == len(tiles)
        # a second pass finds every tile cached
        assert predict_tiles(reader, layout, tiles, PurpleDetector(), stitcher, cache,
                             progress=False) == 0
        assert PurpleDetector.calls == len(tiles)
        stitch_cached_tiles(tiles, layout, stitcher, cache)
        summary = write_slide_outputs(str(tmp_path), 'slide_a', reader, stitcher, 0.5,
                                      dict(status='ok'))
    x, y, w, h = (v // 16 for v in TUMOUR_BOX)
    truth = np.zeros((128, 128), np.uint8)
    truth[y:y + h, x:x + w] = 1
    paths = output_paths(str(tmp_path), 'slide_a')
    with tifffile.TiffFile(paths['mask']) as tif:
        np.testing.assert_array_equal(tif.series[0].levels[0].asarray(), truth)
    collection = json.load(open(paths['geojson']))
    assert len(collection['features']) == 1
    ring = np.asarray(collection['features'][0]['geometry']['coordinates'][0])
    assert ring[:, 0].min() == 520 and ring[:, 0].max() == 1016  # pixel centres at x16
    assert _polygon_area(ring) == pytest.approx(512 * 256, rel=0.1)
    assert summary['tumour_pixels'] == truth.sum() and summary['tumour_polygons'] == 1
    assert summary['tumour_area_mm2'] == pytest.approx(512 * 256 * 0.25 ** 2 * 1e-6)
    assert json.load(open(paths['summary']))['tiles_stitched'] == len(tiles)


def test_cache_refuses_other_settings_and_missing_tiles(slide_path, tmp_path):
    TileCache(str(tmp_path), dict(stride=64)).prepare(write=True)
    with pytest.raises(WSIError, match='holds tiles predicted with other settings \\(stride'):
        TileCache(str(tmp_path), dict(stride=32)).prepare(write=True)
    with open_slide(str(slide_path)) as reader:
        layout = tile_layout(reader, 64, level=1)
        tiles = plan_tiles(reader, layout, None)[:2]
        stitcher = SlideStitcher(reader.dimensions, 16.0)
        with pytest.raises(WSIError, match='2 tile map\\(s\\) are missing'):
            stitch_cached_tiles(tiles, layout, stitcher, TileCache(str(tmp_path), {}))


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    from epsam.wsi import build_model_from_config
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny.pth'
    torch.save(dict(state_dict=build_model_from_config(TINY_CFG).state_dict()), path)
    return path


def _infer_args(slide, out, checkpoint, *extra):
    slides = [str(s) for s in (slide if isinstance(slide, list) else [slide])]
    return [TINY_CFG, str(checkpoint), *slides, '--out', str(out), '--level', '1',
            '--tile-size', '64', '--no-progress', *extra]


def test_infer_cli_positionals_legacy_flags_and_help(capsys):
    tool = load_tool('tools/wsi/infer.py')
    args = tool.parse_args(['c.py', 'k.pth', 'a.svs', 'b.svs', '--out', 'o'])
    assert (args.config, args.checkpoint, args.slides) == ('c.py', 'k.pth', ['a.svs', 'b.svs'])
    with pytest.warns(DeprecationWarning, match='--config/--checkpoint are deprecated'):
        old = tool.parse_args(['a.svs', '--config', 'c.py', '--checkpoint', 'k.pth', '--out', 'o'])
    assert (old.config, old.checkpoint, old.slides) == ('c.py', 'k.pth', ['a.svs'])
    assert 'deprecated' in capsys.readouterr().err
    for bad in (['c.py', '--out', 'o'], ['c.py', 'k.pth', '--out', 'o'],
                ['a.svs', '--config', 'c.py', '--out', 'o']):
        with pytest.raises(SystemExit):
            tool.parse_args(bad)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        tool.parse_args(['--help'])
    text = ' '.join(capsys.readouterr().out.split())
    assert 'CONFIG CHECKPOINT SLIDE [SLIDE ...] --out OUT' in text
    for default in ('(default: 10000.0)', '(default: 512)', '(default: 0.5)', '(default: 4)'):
        assert default in text


@pytest.mark.slow
def test_infer_tool_end_to_end_and_resume(slide_path, tmp_path, tiny_checkpoint, capsys):
    tool = load_tool('tools/wsi/infer.py')
    out = tmp_path / 'out'
    assert tool.main(_infer_args(slide_path, out, tiny_checkpoint, '--stride', '48')) == 0
    paths = output_paths(str(out), 'slide_a')
    summary = json.load(open(paths['summary']))
    assert summary['status'] == 'ok' and summary['tiles'] > 0
    assert summary['tiles_predicted_this_run'] == summary['tiles'] == summary['tiles_stitched']
    assert summary['output_level'] == 2 and summary['output_size'] == [128, 128]
    with tifffile.TiffFile(paths['mask']) as tif:
        assert tif.series[0].levels[0].shape == (128, 128)
    assert json.load(open(paths['geojson']))['type'] == 'FeatureCollection'
    assert (out / 'slide_a_heatmap.png').is_file() and (out / 'slide_a_tissue.png').is_file()
    assert tool.main(_infer_args(slide_path, out, tiny_checkpoint, '--stride', '48')) == 0
    assert json.load(open(paths['summary']))['tiles_predicted_this_run'] == 0
    capsys.readouterr()
    assert tool.main(_infer_args(slide_path, out, tiny_checkpoint)) == 2  # other stride
    assert 'holds tiles predicted with other settings' in capsys.readouterr().err


@pytest.mark.slow
def test_infer_tool_empty_slide_and_bad_input(blank_slide_path, slide_path, tmp_path,
                                              tiny_checkpoint, capsys):
    tool = load_tool('tools/wsi/infer.py')
    out = tmp_path / 'blank'
    assert tool.main(_infer_args([blank_slide_path, slide_path], out, tiny_checkpoint)) == 0
    summary = json.load(open(output_paths(str(out), 'blank')['summary']))
    assert summary['status'] == 'no_tissue' and summary['tiles'] == 0
    assert summary['tumour_polygons'] == 0
    second = json.load(open(output_paths(str(out), 'slide_a')['summary']))
    assert second['status'] == 'ok' and second['min_area_um2'] == 10000.0
    assert second['masked_by_tissue']
    assert 'no tissue found' in capsys.readouterr().out
    missing = tmp_path / 'm'
    assert tool.main(_infer_args([slide_path, tmp_path / 'missing.tif'], missing,
                                 tiny_checkpoint)) == 2
    assert 'missing.tif: does not exist' in capsys.readouterr().err and not missing.exists()
    bad = tmp_path / 'bad'
    assert tool.main(_infer_args(slide_path, bad, tiny_checkpoint, '--output-level', '9')) == 2
    assert 'slide_a.tif: has no level 9' in capsys.readouterr().err
    assert not bad.exists()
    junk = tmp_path / 'junk.pth'
    junk.write_bytes(b'x')
    assert tool.main(_infer_args(slide_path, bad, junk)) == 2
    assert 'junk.pth: checkpoint is corrupt or truncated' in capsys.readouterr().err
    assert not bad.exists()


@pytest.mark.slow
def test_infer_two_cpu_ranks(slide_path, tmp_path, tiny_checkpoint):
    out = tmp_path / 'dist'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO_ROOT))
    port = str(29600 + os.getpid() % 1000)
    proc = subprocess.run(
        [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
         '--master_port', port, 'tools/wsi/infer.py',
         *_infer_args(slide_path, out, tiny_checkpoint), '--launcher', 'pytorch'],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.load(open(output_paths(str(out), 'slide_a')['summary']))
    assert summary['world_size'] == 2
    assert summary['tiles_stitched'] == summary['tiles'] > 0
    # rank 0 predicted half of the tiles (rank 1 the other half)
    assert summary['tiles_predicted_this_run'] == (summary['tiles'] + 1) // 2
    assert len(list((out / 'tiles' / 'slide_a').glob('*.npy'))) == summary['tiles']
