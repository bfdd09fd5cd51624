#!/usr/bin/env python
"""Memory and speed of one training step per SAM tuning variant (CAD's benchmark).

Each variant (decoder-only, CAD, memory-lean CAD, SAM-Adapter, bottleneck,
LoRA; configs in ``configs/_base_/models/sam_tuning_*``) runs one training
step (loss forward, backward, AdamW step) on full-image box prompts, in a
FRESH SUBPROCESS of this script (``--single NAME``), so each peak resident
memory (RSS) is that variant's alone. The memory-lean CAD's embedding cache
is filled by a separate subprocess first, so the measured process never runs
the image encoder. SAM weights are random: memory and speed do not depend on
the values of the weights.

Example::

    nice -n 10 python tools/benchmarks/tuning_memory.py            # ViT-B, 1024 px, batch 2
    python tools/benchmarks/tuning_memory.py --variant-size tiny --batch-size 1 \
        --adapter-input 128 --out-dir /tmp/tuning_memory

Outputs in ``--out-dir``: ``tuning_memory.json``, ``tuning_memory.md``,
``tuning_memory.png``; the tables are printed.
"""
import argparse
import datetime
import json
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch

import epsam  # noqa: F401  (registries and mmcv fallbacks before mmseg)
from epsam.benchmarking.memory import machine_info
from epsam.benchmarking.tuning_step import (TUNING_VARIANTS, VARIANT_SIZES, build_tuning_model,
                                            load_variant_model_cfg, make_training_batch,
                                            measure_training_step, warm_embedding_cache)
from epsam.benchmarking.tuning_report import (WEIGHTS_NOTE, markdown_report, memory_ratios,
                                              plot_memory, ratios_table, results_table)
from epsam.models.sam.building.variants import get_sam_variant

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs' / '_base_' / 'models'
LEAN_CACHE_NOTE = ('its embedding cache is filled by a separate subprocess before the measured '
                   'one, so the image encoder does not run during the measured step (see '
                   '"encoder images in step")')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--variant-size', default='vit_b', choices=VARIANT_SIZES,
                        help='SAM size of the sam_tuning_* configs')
    parser.add_argument('--variants', nargs='+', default=list(TUNING_VARIANTS),
                        choices=TUNING_VARIANTS, help='variants to measure, in order')
    parser.add_argument('--batch-size', type=int, default=2)
    parser.add_argument('--image-size', type=int, default=None,
                        help='side of the square images in pixels (default: the SAM '
                             "variant's encoder input, 1024 for vit_b)")
    parser.add_argument('--adapter-input', type=int, default=512,
                        help="side CAD's adapter resizes images to, in pixels")
    parser.add_argument('--device', default='auto', help="'auto', 'cpu', 'cuda' or 'cuda:N'")
    parser.add_argument('--threads', type=int, default=0,
                        help='torch threads per subprocess (0: torch default)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out-dir', default='work_dirs/benchmarks/tuning_memory')
    parser.add_argument('--cache-dir', default=None,
                        help='embedding cache of the lean CAD (default: a temporary folder)')
    parser.add_argument('--single', default=None, choices=TUNING_VARIANTS,
                        help='(internal) measure one variant in this process')
    parser.add_argument('--warm-only', action='store_true',
                        help='(internal, with --single) only fill the embedding cache')
    parser.add_argument('--result-file', default=None,
                        help='(internal, with --single) where to write the JSON result')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.image_size is not None and args.image_size < 16:
        parser.error(f'--image-size must be >= 16, got {args.image_size}')
    if args.adapter_input < 1:
        parser.error(f'--adapter-input must be >= 1, got {args.adapter_input}')
    if args.single is not None and args.result_file is None:
        parser.error('--single needs --result-file')
    return args


def resolve_device(name: str) -> str:
    if name == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if name.startswith('cuda') and not torch.cuda.is_available():
        raise SystemExit(f'--device {name}: no CUDA device is available')
    return name


def image_size_of(args: argparse.Namespace) -> int:
    return args.image_size or get_sam_variant(args.variant_size).img_size


def run_single(args: argparse.Namespace) -> Dict[str, object]:
    """Build one variant, make its batch and measure (or only warm its cache)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cfg = load_variant_model_cfg(args.single, args.variant_size, CONFIG_DIR,
                                 adapter_input=args.adapter_input, cache_dir=args.cache_dir)
    model = build_tuning_model(cfg, device=device, seed=args.seed)
    data = make_training_batch(model, args.batch_size, image_size_of(args), seed=args.seed)
    if args.warm_only:
        return dict(cache_stats=warm_embedding_cache(model, data))
    return measure_training_step(model, data)


def run_child(args: argparse.Namespace, name: str, cache_dir: str,
              warm_only: bool = False) -> Dict[str, object]:
    """Run ``--single name`` in a fresh Python process; its result or ``dict(error=...)``."""
    with tempfile.TemporaryDirectory(prefix='tuning_memory_') as tmp:
        result_file = Path(tmp) / 'result.json'
        command = [sys.executable, str(Path(__file__).resolve()), '--single', name,
                   '--result-file', str(result_file), '--variant-size', args.variant_size,
                   '--batch-size', str(args.batch_size), '--adapter-input',
                   str(args.adapter_input), '--device', args.device, '--threads',
                   str(args.threads), '--seed', str(args.seed), '--cache-dir', cache_dir]
        if args.image_size:
            command += ['--image-size', str(args.image_size)]
        if warm_only:
            command.append('--warm-only')
        done = subprocess.run(command, cwd=str(REPO), capture_output=True, text=True)
        if done.returncode != 0 or not result_file.is_file():
            reason = ('killed by signal %d (out of memory?)' % -done.returncode
                      if done.returncode < 0 else f'exit code {done.returncode}')
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return dict(error=f'{reason}: {" / ".join(tail)}')
        return json.loads(result_file.read_text())


def measure_all(args: argparse.Namespace, cache_dir: str) -> Dict[str, Dict[str, object]]:
    results = {}
    for index, name in enumerate(args.variants, 1):
        start = time.perf_counter()
        cfg = load_variant_model_cfg(name, args.variant_size, CONFIG_DIR,
                                     adapter_input=args.adapter_input, cache_dir=cache_dir)
        warm = None
        if cfg.get('embedding_cache') is not None:
            warm = run_child(args, name, cache_dir, warm_only=True)
            if 'error' in warm:
                results[name] = dict(error='cache warm-up failed: ' + warm['error'])
                continue
        result = run_child(args, name, cache_dir)
        if warm is not None and 'error' not in result:
            result['cache_warm_up'] = warm['cache_stats']
        results[name] = result
        status = result.get('error', 'ok')
        print(f'[{index}/{len(args.variants)}] {name}: {status} '
              f'({time.perf_counter() - start:.0f} s)', flush=True)
    return results


def write_outputs(report: Dict[str, object], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    settings, machine = report['settings'], report['machine']
    chart = plot_memory(
        report['results'], out_dir / 'tuning_memory.png',
        title=(f'One training step per SAM tuning variant: {settings["variant_size"]}, '
               f'{settings["image_size"]} px, batch {settings["batch_size"]}'),
        subtitle=(f'{WEIGHTS_NOTE} {report["date"]}; {machine["cpu_count"]} CPUs, '
                  f'torch {machine["torch"]}, device {machine["device"]} '
                  f'({machine["device_name"]}).'))
    report['chart'] = str(chart)
    (out_dir / 'tuning_memory.json').write_text(json.dumps(report, indent=2) + '\n')
    (out_dir / 'tuning_memory.md').write_text(markdown_report(report))


def main(argv: Optional[List[str]] = None) -> Dict[str, object]:
    args = parse_args(argv)
    if args.single is not None:
        result = run_single(args)
        Path(args.result_file).write_text(json.dumps(result))
        return result

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    args.device = device
    start = time.perf_counter()
    if args.cache_dir is None:
        with tempfile.TemporaryDirectory(prefix='tuning_memory_cache_') as cache_dir:
            results = measure_all(args, cache_dir)
    else:
        results = measure_all(args, args.cache_dir)
    report = dict(
        date=datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
        command=shlex.join([Path(sys.executable).name, *sys.argv]) if argv is None
        else shlex.join(['python', str(Path(__file__).relative_to(REPO)), *argv]),
        weights=WEIGHTS_NOTE,
        machine=machine_info(device),
        settings=dict(variant_size=args.variant_size, image_size=image_size_of(args),
                      adapter_input=args.adapter_input, batch_size=args.batch_size,
                      prompt='one full-image box per image', optimizer='AdamW lr 2e-4',
                      seed=args.seed, variants=args.variants),
        lean_cache_note=LEAN_CACHE_NOTE,
        results=results,
        ratios=memory_ratios(results),
        elapsed_s=round(time.perf_counter() - start, 1))
    out_dir = Path(args.out_dir)
    write_outputs(report, out_dir)
    print(f'\n{WEIGHTS_NOTE}\nmachine: {report["machine"]}\n')
    print(results_table(results))
    print(f'\nratios (verdict on {report["ratios"][0]["primary_metric"]}):')
    print(ratios_table(report['ratios']))
    print(f'\nwritten: {out_dir}/tuning_memory.{{json,md,png}}')
    return report


if __name__ == '__main__':
    main()
