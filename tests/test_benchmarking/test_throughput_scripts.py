"""The throughput benchmark scripts run end to end at tiny scale (never timed).

Also: the FLOPs of a training step, which bound what an embedding cache can save.

``tuning_epoch_cache.py`` (cached vs recomputed tuning epoch), ``cam_throughput.py``
(CAM TTA, batched vs naive) and ``pseudo_label_throughput.py`` (epsam vs naive
``SamPredictor`` loop): each writes its JSON with the keys the docs quote, and
ratios are positive; no timing threshold is asserted.
"""
import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from epsam.benchmarking.tuning_step import (build_tuning_model, load_variant_model_cfg,
                                            make_training_batch, training_step_flops,
                                            warm_embedding_cache)
from tests.conftest import REPO_ROOT

TOOLS = REPO_ROOT / 'tools' / 'benchmarks'
CONFIG_DIR = REPO_ROOT / 'configs' / '_base_' / 'models'
LOAD_KEYS = ('1min', '5min', '15min')


def _load_ok(report: dict, *keys: str) -> None:
    for key in keys:
        assert set(report[key]) <= set(LOAD_KEYS)


def test_tuning_epoch_cache_script(tool_runner, tmp_path):
    out = tmp_path / 'epoch.json'
    proc = tool_runner([TOOLS / 'tuning_epoch_cache.py', '--variant', 'tiny', '--adapter',
                        'cad_lean', '--num-images', '2', '--threads', '1', '--out', out])
    report = json.loads(out.read_text())
    assert report['variant'] == 'tiny' and report['tuning_variant'] == 'cad_lean'
    assert report['weights'].startswith('random weights')
    recompute, cached = report['recompute'], report['cached']
    assert recompute['encoder_images'] == 2 and recompute['cache'] is None
    assert cached['encoder_images'] == 0
    assert cached['cache'] == dict(hits=2, misses=0, encoder_passes=0)
    assert cached['adapter_forward_s'] > 0 and recompute['encoder_forward_s'] > 0
    for part in (recompute, cached):
        assert part['images'] == 2 and part['steps'] == 2 and part['epoch_s'] > 0
    assert report['speedup'] == recompute['epoch_s'] / cached['epoch_s'] > 0
    encoder, step = report['encoder_gflops_per_image'], report['cached_step_gflops_per_image']
    assert encoder > 0 and step > 0
    assert report['flop_ceiling'] == pytest.approx((encoder + step) / step)
    assert report['peak_ceiling'] == pytest.approx(
        1 + report['encoder_seconds_per_image'] * report['matmul_peak_gflops'] / step)
    assert report['machine']['torch_threads'] == 1
    _load_ok(report, 'load_average_before', 'load_average_after')
    assert 'speed-up (recompute / cached)' in proc.stdout and 'load average' in proc.stdout
    assert 'ceilings:' in proc.stdout


def test_training_step_flops_counts_backward_and_leaves_weights(tmp_path):
    model = build_tuning_model(load_variant_model_cfg('cad_lean', 'tiny', CONFIG_DIR,
                                                      cache_dir=str(tmp_path)))
    data = make_training_batch(model, 1, 64)
    warm_embedding_cache(model, data)  # the step's FLOPs are then the adapter's and decoder's
    before = {name: param.detach().clone() for name, param in model.named_parameters()}
    with FlopCounterMode(display=False) as forward_only, torch.no_grad():
        model(**data, mode='loss')
    flops = training_step_flops(model, data)
    # Backward costs about twice the forward; checkpointing runs the adapter's forward again.
    assert flops > 2.5 * forward_only.get_total_flops()
    assert all(param.grad is None for param in model.parameters())
    assert all(torch.equal(before[name], param) for name, param in model.named_parameters())


def test_cam_throughput_script(tool_runner, tmp_path):
    out = tmp_path / 'cams.json'
    proc = tool_runner([TOOLS / 'cam_throughput.py', '--num-images', '4', '--batch-size', '2',
                        '--repeats', '1', '--size', '64', '--out', out])
    report = json.loads(out.read_text())
    assert report['speedup'] > 0 and report['tta_copies'] == 4
    assert report['max_abs_diff_nhwc'] == 0  # channels-last changes no value
    assert report['max_cam_difference_uint8'] == 0 and report['identical_mask_pixels'] == 1
    assert report['machine']['device_name'] == 'CPU'
    _load_ok(report, 'load_average_before', 'load_average_after')
    assert 'speed-up' in proc.stdout and 'load average' in proc.stdout


def test_pseudo_label_throughput_script(tool_runner, tmp_path):
    out = tmp_path / 'pl.json'
    proc = tool_runner([TOOLS / 'pseudo_label_throughput.py', '--variant', 'tiny',
                        '--num-images', '2', '--image-size', '64', '--prompt-sets', '1', '2',
                        '--batch-size', '2', '--threads', '1', '--device', 'cpu', '--out', out])
    report = json.loads(out.read_text())
    assert [row['k'] for row in report['rows']] == [1, 2]
    assert all(row['speedup'] > 0 and row['naive_s'] > 0 for row in report['rows'])
    assert report['naive']['predictor'] == 'SamPredictor'  # stock segment_anything
    assert report['naive']['images_encoded'] == 4 and report['epsam']['images_encoded'] == 2
    assert report['fused_attention'] == dict(naive=False, epsam=False)  # tiny: stock default
    assert report['weights'].startswith('random weights')
    assert report['torch_threads'] == 1 and report['masks']['masks'] == 4
    _load_ok(report, 'load_average_before', 'load_average_after')
    assert 'load average' in proc.stdout
