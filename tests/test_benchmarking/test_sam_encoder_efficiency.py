"""The SAM encoder efficiency benchmark: stock vs fused attention rows (tiny SAM; never timed)."""
import json

import torch

import epsam  # noqa: F401
from epsam.benchmarking.encoder_speed import compare_fused_attention, seconds_per_image
from epsam.models.sam import build_sam
from epsam.models.sam.building.fused_attention import fused_attention_enabled
from tests.conftest import REPO_ROOT

SCRIPT = REPO_ROOT / 'tools' / 'benchmarks' / 'sam_encoder_efficiency.py'
KEYS = ('gflops_per_image', 'achieved_gflops', 'matmul_peak_gflops', 'fraction_of_peak',
        'speedup_vs_stock', 'max_abs_diff')


def test_compare_fused_attention_reports_both_paths_and_leaves_stock():
    torch.manual_seed(0)
    encoder = build_sam('tiny', pretrained=False).image_encoder
    result = compare_fused_attention(encoder, torch.randn(1, 3, 256, 256), repeats=1)
    assert result['stock_seconds_per_image'] > 0 and result['fused_seconds_per_image'] > 0
    assert result['speedup_vs_stock'] == (result['stock_seconds_per_image']
                                          / result['fused_seconds_per_image'])
    assert 0 <= result['max_abs_diff'] <= 1e-4
    assert not fused_attention_enabled(encoder)


def test_bf16_batches_are_compared_against_stock_float32():
    torch.manual_seed(0)
    encoder = build_sam('tiny', pretrained=False).image_encoder
    frames = torch.randn(2, 3, 256, 256)
    result = compare_fused_attention(encoder, frames, batch_size=2,
                                     autocast_dtype=torch.bfloat16)
    # bf16 rounding shows (so autocast ran), within what bf16 can hold.
    assert 1e-4 < result['max_abs_diff'] < 0.5
    assert seconds_per_image(encoder, frames, batch_size=2, autocast_dtype=torch.bfloat16) > 0


def test_script_writes_fused_rows(tool_runner, tmp_path):
    out = tmp_path / 'efficiency.json'
    proc = tool_runner([SCRIPT, '--variant', 'tiny', '--num-images', '1', '--threads', '1',
                        '--fused', '--out', out])
    report = json.loads(out.read_text())
    row, = report['rows']
    assert row['variant'] == 'tiny' and report['fused'] is True
    assert all(isinstance(row[key], float) for key in KEYS)
    assert row['seconds_per_image'] == row['fused_seconds_per_image']
    assert row['max_abs_diff'] <= 1e-4
    assert row['fraction_of_peak'] == row['achieved_gflops'] / row['matmul_peak_gflops']
    assert 'speed-up vs stock' in proc.stdout and 'max abs diff' in proc.stdout


def test_script_writes_batch_size_and_precision(tool_runner, tmp_path):
    # fp32: the default on a CPU, where a bf16 matmul peak can take minutes to measure.
    out = tmp_path / 'batched.json'
    proc = tool_runner([SCRIPT, '--variant', 'tiny', '--num-images', '2', '--batch-size', '2',
                        '--threads', '1', '--out', out])
    report = json.loads(out.read_text())
    row, = report['rows']
    assert (report['precision'], report['batch_size']) == ('fp32', 2)
    assert (row['precision'], row['batch_size']) == ('fp32', 2)
    assert 'fp32, 2 frame(s) per call' in proc.stdout
