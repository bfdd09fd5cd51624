"""Run the EP-SAM pipeline with adapter tuning steps on a device, at tiny sizes.

A functional check for a machine with a GPU (CPU works too, slowly): the
binary pipeline with CAD and with LoRA as the SAM tuning step, and the
multi-class pipeline with memory-lean CAD, each on freshly generated
synthetic data, 1 iteration, 2 epochs per training. Prints each run's result
table, wall time and ``torch.cuda.max_memory_allocated``, and writes them as
JSON. SAM is the tiny random stand-in: the numbers show that every stage runs
on the device, not how well anything works.

Example::

    python tools/benchmarks/pipeline_device_check.py --device cuda --out-dir work_dirs/device_check
"""
import argparse
import json
import os
import os.path as osp
import time
from typing import Dict

import torch
from mmengine.config import Config

import epsam  # noqa: F401  (mmcv op fallback before mmseg)
from epsam.datasets.synthetic import generate_bcss_like, generate_camelyon_like
from epsam.pipeline import EPSAMPipeline

CONFIGS = 'configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-{}_3iter_synthetic-{}-128x128.py'
RUNS = (('cad', 'camelyon'), ('lora', 'camelyon'), ('cad-lean', 'bcss'))


def tiny_config(variant: str, dataset: str, data_root: str) -> Config:
    """The variant's pipeline config, cut to 1 iteration and 2 epochs per training."""
    cfg = Config.fromfile(CONFIGS.format(variant, dataset))
    cfg.data_root = data_root
    options = {'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
               'default_hooks.checkpoint.interval': 2}
    if dataset == 'bcss':
        options['param_scheduler.0.T_max'] = 2
        cfg.pseudo_labels.selector = dict(type='KeepAllSelector')
    cfg.classifier.cfg_options = options
    cfg.sam_tuning.cfg_options = {'train_cfg.max_epochs': 2, 'param_scheduler.0.T_max': 2}
    cfg.iterations = 1
    return cfg


def main() -> Dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--out-dir', default='work_dirs/benchmarks/pipeline_device_check')
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    data = {'camelyon': osp.join(args.out_dir, 'data_camelyon'),
            'bcss': osp.join(args.out_dir, 'data_bcss')}
    generate_camelyon_like(data['camelyon'], num_train=32, num_val=4, num_test=12,
                           patch_size=64, seed=1)
    generate_bcss_like(data['bcss'], num_train=16, num_val=4, num_test=6, patch_size=64, seed=1)
    cuda = args.device.startswith('cuda')
    summary = {}
    for variant, dataset in RUNS:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.time()
        work_dir = osp.join(args.out_dir, f'{dataset}_{variant}')
        result = EPSAMPipeline(tiny_config(variant, dataset, data[dataset]), work_dir,
                               device=args.device).run()
        summary[f'{dataset}/{variant}'] = dict(
            seconds=round(time.time() - start, 1),
            cuda_max_allocated_mib=(round(torch.cuda.max_memory_allocated() / 2**20, 1)
                                    if cuda else None),
            table=result['table'])
        print(result['table'], flush=True)
    with open(osp.join(args.out_dir, 'pipeline_device_check.json'), 'w') as handle:
        json.dump(dict(device=args.device, runs=summary), handle, indent=2)
    for name, run in summary.items():
        print(f'{name}: {run["seconds"]} s, CUDA max allocated {run["cuda_max_allocated_mib"]} MiB')
    return summary


if __name__ == '__main__':
    main()
