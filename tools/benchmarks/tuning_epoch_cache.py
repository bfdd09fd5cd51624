#!/usr/bin/env python
"""SAM tuning epoch with cached encoder embeddings vs recomputing the encoder (one run).

Example::

    nice -n 5 python tools/benchmarks/tuning_epoch_cache.py --variant vit_b --adapter decoder \
        --num-images 4 --out work_dirs/benchmarks/tuning_epoch_cache/vit_b_decoder.json

One model (a tuning config of ``configs/_base_/models``, ``sam.checkpoint=None``)
with an embedding cache (:class:`~epsam.models.sam.cache.SamEmbeddingCache`,
float16 entries on disk, as the pipeline's) in a temporary folder. The cache
is warmed first (not timed); then one epoch over ``--num-images`` synthetic
patches with the cache detached (the frozen encoder runs at each step, as
without a cache), then the same epoch reading the warm cache. The trainable
weights are restored between the two epochs. Each epoch is a loop of
training steps (loss forward, backward, AdamW step) on full-image box
prompts; the printed breakdown says where the time goes (encoder forward,
cache look-ups, adapter forward, the rest = prompt encoder, mask decoder,
loss, backward passes and the optimizer).

Where the ceiling lies, in the same run: the FLOPs of one image through the
frozen encoder (what the cache saves) and of one cached training step per
image (loss forward and backward, counted by ``FlopCounterMode`` on the first
batch; what the cache cannot save), the machine's large-matmul peak, and two
ceilings on the speed-up: ``flop_ceiling`` = (encoder + step FLOPs) / step
FLOPs, the speed-up if both epochs ran at one FLOP rate, and
``peak_ceiling`` = 1 + the measured encoder seconds per image x the peak /
the step FLOPs, what the cache would give if the cached step ran at the
machine's matmul peak (both epochs' steps costing the same; their measured
times vary by some percent). A tuning variant whose trained part costs more
FLOPs than the encoder (CAD's adapter runs on the image at every step)
cannot reach a large speed-up from any cache.

Adapters: ``decoder`` (decoder-only tuning; the encoder's output is all the
step needs), ``cad_lean`` (memory-lean CAD: its adapter runs on the image at
every step, cache or not), ``cad``. In-encoder adapters cannot use the cache.
ViT-B and the tiny SAM have random weights here (stand-ins: speed does not
depend on the values); LiteMedSAM loads its bundled weights.
"""
import argparse
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import torch

import epsam  # noqa: F401  (registries and mmcv fallbacks before mmseg)
from epsam.benchmarking.encoder_speed import (encoder_flops, load_average, matmul_peak_gflops,
                                              sam_weights_note)
from epsam.benchmarking.memory import machine_info
from epsam.benchmarking.tuning_step import (IN_ENCODER_VARIANTS, TUNING_VARIANTS, VARIANT_SIZES,
                                            build_tuning_model, load_variant_model_cfg,
                                            make_training_batches, time_training_epoch,
                                            training_step_flops, warm_embedding_cache)
from epsam.fileio.atomic_io import atomic_write_json
from epsam.models.sam.building.variants import get_sam_variant

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'models'
#: ``--adapter`` names: the tuning variants that can read cached embeddings.
ADAPTERS = {'decoder': 'decoder_only'}
ADAPTERS.update({name: name for name in TUNING_VARIANTS if name not in IN_ENCODER_VARIANTS})
CACHE_CFG = dict(storage_dtype='float16')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--variant', default='vit_b', choices=VARIANT_SIZES, help='SAM variant')
    parser.add_argument('--adapter', default='decoder', choices=sorted(ADAPTERS),
                        help='tuning variant (decoder = decoder-only)')
    parser.add_argument('--num-images', type=int, default=4, help='images in the epoch')
    parser.add_argument('--batch-size', type=int, default=1, help='images per training step')
    parser.add_argument('--image-size', type=int, default=None,
                        help="side of the square patches (default: the encoder's input)")
    parser.add_argument('--adapter-input', type=int, default=None,
                        help="side CAD's adapter resizes images to (default: the config's)")
    parser.add_argument('--threads', type=int, default=0, help='torch threads (0: default)')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cache-dir', default=None, help='cache folder (default: temporary)')
    parser.add_argument('--out', default=None, help='write the results as JSON here')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.batch_size < 1:
        parser.error('--num-images and --batch-size must be >= 1')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: no CUDA device is available')
    return args


def build_model(args: argparse.Namespace, cache_dir: str) -> torch.nn.Module:
    """The tuning model of ``--adapter`` at ``--variant`` with a disk embedding cache."""
    cfg = load_variant_model_cfg(ADAPTERS[args.adapter], args.variant, CONFIG_DIR,
                                 adapter_input=args.adapter_input, cache_dir=cache_dir)
    cfg['embedding_cache'] = {**CACHE_CFG, **(cfg.get('embedding_cache') or {}),
                              'cache_dir': cache_dir}
    if get_sam_variant(args.variant).bundled_weights:
        cfg['sam']['pretrained'] = True
    return build_tuning_model(cfg, device=args.device, seed=args.seed)


def run(args: argparse.Namespace, cache_dir: str) -> Dict[str, object]:
    """Warm the cache, then time the recomputing epoch and the cached epoch."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(args, cache_dir)
    image_size = args.image_size or get_sam_variant(args.variant).img_size
    batches = make_training_batches(model, args.num_images, args.batch_size, image_size,
                                    seed=args.seed)
    for data in batches:  # not timed: fills the cache and warms every code path up
        warm_embedding_cache(model, data)
    trained = {name: param.detach().clone() for name, param in model.named_parameters()
               if param.requires_grad}
    # Not timed; no optimizer step, so the weights stay as they are.
    step_flops = training_step_flops(model, batches[0]) / len(batches[0]['inputs'])
    load_before = load_average()
    cache, model.embedding_cache = model.embedding_cache, None
    try:
        recompute = time_training_epoch(model, batches)
    finally:
        model.embedding_cache = cache
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in trained:
                param.copy_(trained[name])
    cached = time_training_epoch(model, batches)
    load_after = load_average()
    return dict(variant=args.variant, adapter=args.adapter,
                tuning_variant=ADAPTERS[args.adapter], weights=sam_weights_note(args.variant),
                images=args.num_images, batch_size=args.batch_size, image_size=image_size,
                recompute=recompute, cached=cached,
                speedup=recompute['epoch_s'] / cached['epoch_s'],
                **speedup_ceilings(args, recompute, step_flops),
                load_average_before=load_before, load_average_after=load_after,
                machine=machine_info(args.device))


def speedup_ceilings(args: argparse.Namespace, recompute: Dict[str, object],
                     step_flops: float) -> Dict[str, float]:
    """FLOPs per image of the encoder and of a cached step, the peak, and both ceilings.

    Args:
        args: The parsed command line (variant, device).
        recompute: The recomputing epoch's timings (its encoder seconds).
        step_flops: FLOPs of one cached training step per image.
    """
    encoder = encoder_flops(args.variant)
    peak = matmul_peak_gflops(args.device)
    encoder_s = recompute['encoder_forward_s'] / max(recompute['encoder_images'], 1)
    return dict(encoder_gflops_per_image=encoder / 1e9,
                cached_step_gflops_per_image=step_flops / 1e9,
                matmul_peak_gflops=peak, encoder_seconds_per_image=encoder_s,
                flop_ceiling=(encoder + step_flops) / step_flops,
                peak_ceiling=1 + encoder_s * peak * 1e9 / step_flops)


def report(result: Dict[str, object]) -> str:
    """The printed summary: both epochs, the ratio and where the time goes."""
    lines = [f"tuning epoch, {result['images']} images of {result['image_size']} px "
             f"(batch {result['batch_size']}), SAM {result['variant']} ({result['weights']}), "
             f"adapter {result['adapter']}, {result['machine']['device_name']}, "
             f"{result['machine']['torch_threads']} torch thread(s)"]
    for key, label in (('recompute', 'recomputing the encoder'),
                       ('cached', 'embeddings from the cache')):
        part = result[key]
        lines.append(f'  {label:26s}: {part["epoch_s"]:8.2f} s  (encoder forward '
                     f'{part["encoder_forward_s"]:.2f} s for {part["encoder_images"]} images, '
                     f'cache look-ups {part["cache_lookup_s"]:.2f} s, adapter forward '
                     f'{part["adapter_forward_s"]:.2f} s, rest {part["other_s"]:.2f} s)')
    lines.append(f"  speed-up (recompute / cached): {result['speedup']:.2f}x")
    lines.append(f"  FLOPs per image: encoder {result['encoder_gflops_per_image']:.1f} GFLOP "
                 f"(saved by the cache), cached training step "
                 f"{result['cached_step_gflops_per_image']:.1f} GFLOP (not saved)")
    lines.append(f"  ceilings: {result['flop_ceiling']:.2f}x at one FLOP rate for both epochs; "
                 f"{result['peak_ceiling']:.2f}x if the cached step ran at the matmul peak "
                 f"({result['matmul_peak_gflops']:.1f} GFLOP/s; encoder "
                 f"{result['encoder_seconds_per_image']:.2f} s per image measured)")
    lines.append(f"  load average before/after: {result['load_average_before']} / "
                 f"{result['load_average_after']}")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    args = parse_args(argv)
    if args.cache_dir:
        result = run(args, args.cache_dir)
    else:
        with tempfile.TemporaryDirectory(prefix='tuning_epoch_cache_') as cache_dir:
            result = run(args, cache_dir)
    print(report(result))
    if args.out:
        atomic_write_json(args.out, result)
    return result


if __name__ == '__main__':
    main()
