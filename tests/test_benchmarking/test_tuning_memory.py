"""The SAM tuning memory benchmark: probes, variant configs, the measured step,
ratios and the script's outputs (tiny SAM; never timed)."""
import json
import sys

import pytest
import torch

import epsam  # noqa: F401
from epsam.benchmarking.memory import (SavedTensorCounter, current_rss_bytes, peak_rss_bytes,
                                       reset_peak_rss)
from epsam.benchmarking.tuning_report import (markdown_report, memory_ratios, primary_metric,
                                              results_table)
from epsam.benchmarking.tuning_step import (IN_ENCODER_VARIANTS, TUNING_VARIANTS,
                                            build_tuning_model, load_variant_model_cfg,
                                            make_training_batch, measure_training_step,
                                            variant_config_path, warm_embedding_cache)
from epsam.registry import MODELS
from tests.conftest import REPO_ROOT

CONFIG_DIR = REPO_ROOT / 'configs' / '_base_' / 'models'
SCRIPT = REPO_ROOT / 'tools' / 'benchmarks' / 'tuning_memory.py'


def test_counter_counts_each_saved_storage_once_and_parameters_apart():
    linear = torch.nn.Linear(8, 4)
    x = torch.randn(16, 8, requires_grad=True)
    with SavedTensorCounter(exclude=linear.parameters()) as counter:
        y = linear(x)  # saves x (16 x 8) and a view of the weight
        z = y * y  # saves y twice: one storage
    assert counter.saved_bytes == (16 * 8 + 16 * 4) * 4
    assert counter.excluded_bytes == 8 * 4 * 4
    assert counter.num_storages == 2
    z.sum().backward()  # saved tensors are returned unchanged
    assert torch.allclose(x.grad, (2 * y.detach()) @ linear.weight.detach())

    with SavedTensorCounter() as idle:
        with torch.no_grad():
            linear(x) * 2
    assert idle.saved_bytes == 0 and idle.num_storages == 0
    with pytest.raises(RuntimeError, match='already active'):
        with idle:
            with idle:
                pass


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
def test_rss_probes_see_a_touched_allocation():
    # The kernel may reclaim other pages of this process between two probes
    # (the RSS falls under the reading taken before the allocation), so one
    # of three tries must see the block; broken probes fail all three.
    grown = []
    for _ in range(3):
        if not reset_peak_rss():
            pytest.skip('the kernel does not allow resetting the peak RSS here')
        before = current_rss_bytes()
        assert 0 < before <= peak_rss_bytes() + (1 << 20)
        block = torch.ones(16 << 20, dtype=torch.float32)  # 64 MiB, written
        grown.append(peak_rss_bytes() - before)
        del block
        if grown[-1] >= 48 << 20:
            break
    assert grown[-1] >= 48 << 20, grown


@pytest.mark.parametrize('name', TUNING_VARIANTS)
def test_each_variant_has_a_tiny_and_a_vit_b_config_that_agree(name, tmp_path):
    configs = {size: load_variant_model_cfg(name, size, CONFIG_DIR, cache_dir=tmp_path)
               for size in ('tiny', 'vit_b')}
    assert configs['vit_b']['sam'] == dict(variant='vit_b', checkpoint=None, pretrained=False)
    assert configs['tiny']['sam']['variant'] == 'tiny'
    adapters = [cfg.get('adapter') for cfg in configs.values()]
    assert [a and a['type'] for a in adapters][0] == [a and a['type'] for a in adapters][1]
    assert (adapters[0] is None) == (name == 'decoder_only')
    torch.manual_seed(0)
    model = MODELS.build(configs['tiny'])
    assert (model.embedding_cache is not None) == (name == 'cad_lean')
    if name.startswith('cad'):
        assert configs['vit_b']['adapter']['input_size'] == 512
        assert model.adapter.blocks[0].with_cp == (name == 'cad_lean')


def test_lite_medsam_takes_the_vit_b_settings_with_its_own_sam(tmp_path):
    cfg = load_variant_model_cfg('cad', 'lite_medsam', CONFIG_DIR, cache_dir=tmp_path)
    assert cfg['sam'] == dict(variant='lite_medsam', checkpoint=None, pretrained=False)
    assert cfg['adapter']['type'] == 'CADAdapter' and cfg['adapter']['input_size'] == 512


def test_config_loading_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match='unknown tuning variant'):
        variant_config_path(CONFIG_DIR, 'prefix_tuning', 'tiny')
    with pytest.raises(ValueError, match='unknown SAM size'):
        variant_config_path(CONFIG_DIR, 'cad', 'vit_x')
    with pytest.raises(FileNotFoundError, match='sam_tuning_cad_tiny.py'):
        load_variant_model_cfg('cad', 'tiny', tmp_path)
    with pytest.raises(ValueError, match='pass cache_dir'):
        load_variant_model_cfg('cad_lean', 'tiny', CONFIG_DIR)
    cfg = load_variant_model_cfg('cad', 'tiny', CONFIG_DIR, adapter_input=256)
    assert cfg['adapter']['input_size'] == 256
    with pytest.raises(ValueError, match='batch_size'):
        make_training_batch(build_tuning_model(cfg), 0, 64)


def test_measured_step_orderings_at_tiny(tmp_path):
    results = {}
    for name in TUNING_VARIANTS:
        cfg = load_variant_model_cfg(name, 'tiny', CONFIG_DIR, adapter_input=128,
                                     cache_dir=tmp_path)
        model = build_tuning_model(cfg)
        data = make_training_batch(model, 1, 256)
        if model.embedding_cache is not None:
            assert warm_embedding_cache(model, data)['encoder_passes'] == 1
        results[name] = measure_training_step(model, data)
        # The step trained: the decoder moved away from its seeded weights.
        reference = build_tuning_model(cfg)
        assert not torch.equal(model.sam.mask_decoder.output_upscaling[0].weight,
                               reference.sam.mask_decoder.output_upscaling[0].weight)

    saved = {name: result['saved_bytes'] for name, result in results.items()}
    for name in IN_ENCODER_VARIANTS:  # backward crosses the encoder blocks
        assert saved[name] > 2 * saved['decoder_only']
    assert saved['cad'] > saved['cad_lean'] > saved['decoder_only'] > 0  # checkpointing
    for name, result in results.items():
        assert result['encoder_images_during_step'] == (0 if name == 'cad_lean' else 1)
        assert result['cuda_max_allocated_bytes'] is None
        assert result['step_time_s'] >= result['forward_time_s'] > 0
        assert result['trainable_params'] > 0
        # The kernel's RSS counters lag by a few pages: allow 4 MiB of slack.
        assert result['peak_rss_bytes'] >= result['rss_before_step_bytes'] - (4 << 20) > 0
    assert results['cad_lean']['cache_during_step'] == dict(hits=1, misses=0, encoder_passes=0)
    for name in TUNING_VARIANTS[1:]:
        assert results[name]['trainable_params'] > results['decoder_only']['trainable_params']
    assert results['cad']['trainable_params'] == results['cad_lean']['trainable_params']


def _entry(peak, cuda=None):
    return dict(trainable_params=1, saved_bytes=peak, peak_rss_bytes=peak + 100,
                peak_rss_step_delta_bytes=peak, cuda_max_allocated_bytes=cuda,
                encoder_images_during_step=1, step_time_s=1.0)


def test_ratios_judge_each_target_and_say_when_a_number_is_missing():
    results = dict(decoder_only=_entry(100), cad=_entry(120), cad_lean=_entry(115),
                   sam_adapter=_entry(400))
    rows = {(r['numerator'], r['denominator']): r for r in memory_ratios(results)}
    assert primary_metric(results) == 'peak_rss_step_delta_bytes'
    assert rows['cad', 'sam_adapter']['metrics']['saved_bytes']['ratio'] == pytest.approx(0.3)
    assert rows['cad', 'sam_adapter']['verdict'] == 'PASS'
    assert rows['cad', 'decoder_only']['verdict'] == 'PASS'  # 1.2 <= 1.3
    assert rows['cad_lean', 'decoder_only']['verdict'] == 'FAIL'  # 1.15 > 1.1
    assert rows['cad', 'decoder_only']['metrics']['cuda_max_allocated_bytes']['verdict'] == 'n/a'

    on_gpu = {name: _entry(entry['saved_bytes'], cuda=1000) for name, entry in results.items()}
    on_gpu['sam_adapter'] = dict(error='killed by signal 9 (out of memory?)')
    assert primary_metric(on_gpu) == 'cuda_max_allocated_bytes'
    rows = {(r['numerator'], r['denominator']): r for r in memory_ratios(on_gpu)}
    assert rows['cad', 'sam_adapter']['verdict'] == 'n/a'
    assert rows['cad', 'decoder_only']['verdict'] == 'PASS'  # 1000 / 1000
    assert 'failed: killed by signal 9' in results_table(on_gpu)


@pytest.mark.slow
def test_script_measures_every_variant_in_its_own_process(tool_runner, tmp_path):
    out_dir = tmp_path / 'out'
    proc = tool_runner([SCRIPT, '--variant-size', 'tiny', '--batch-size', '1',
                        '--adapter-input', '128', '--threads', '1', '--out-dir', out_dir])
    report = json.loads((out_dir / 'tuning_memory.json').read_text())
    assert list(report['results']) == list(TUNING_VARIANTS)
    for name, result in report['results'].items():
        assert 'error' not in result, (name, result)
        assert f'| {name}' in proc.stdout
    assert report['results']['cad_lean']['encoder_images_during_step'] == 0
    assert report['results']['cad_lean']['cache_warm_up']['encoder_passes'] == 1
    assert report['settings']['image_size'] == 256
    assert report['machine']['cpu_count'] >= 1 and report['machine']['device'] == 'cpu'
    assert 'random' in report['weights']
    assert len(report['ratios']) == 3
    assert all(row['verdict'] in ('PASS', 'FAIL') for row in report['ratios'])
    markdown = (out_dir / 'tuning_memory.md').read_text()
    assert 'random' in markdown and 'torch' in markdown and '| lora |' in markdown
    assert markdown == markdown_report(report)
    assert (out_dir / 'tuning_memory.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'random' in proc.stdout and ('PASS' in proc.stdout or 'FAIL' in proc.stdout)
