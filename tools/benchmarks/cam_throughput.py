"""Throughput of CAM generation with 4-rotation TTA: batched ``generate_cams`` vs a naive loop.

Example::

    python tools/benchmarks/cam_throughput.py --num-images 64 --batch-size 16

Both paths use the same model, images and settings (plain CAM of layer4
block 0 averaged over 4 rotations, 10th-percentile mask with opening, CAM
npz + mask PNG written atomically):

- naive: one image at a time, ``TTACAM`` running one forward pass per
  rotation, scores from a separate forward pass;
- batched: :func:`epsam.cams.generation.generate_cams` (batches of
  ``--batch-size`` images, the 4 rotations stacked into one forward pass in
  the channels-last format on the CPU, scores read from that pass).

Each path runs ``--repeats`` times into fresh folders, alternating, and the
fastest run of each counts (the machine may be shared; the load average is
recorded). The outputs of the two paths are compared (CAM values in uint8
steps, masks pixel by pixel), and the batched float CAMs of one batch are
compared with and without channels-last (``max_abs_diff_nhwc``, asserted 0:
the format must not change a value) and with the naive path's float CAMs
(``max_abs_diff_vs_naive``).
"""
import argparse
import json
import os.path as osp
import shutil
import tempfile
import time

import numpy as np
import torch
from mmengine.dataset import pseudo_collate

import epsam  # noqa: F401
from epsam.apis import init_model, load_config
from epsam.cams import TTACAM
from epsam.benchmarking.encoder_speed import load_average
from epsam.benchmarking.memory import machine_info
from epsam.cams.batch_compute import build_cam_method, compute_cams
from epsam.cams.generation import generate_cams
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.fileio.cam_store import load_cam, load_label_png, save_cam, save_label_png
from epsam.registry import DATASETS, MASK_MAKERS

CONFIG = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
                  'adl_cam', 'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py')
TTA = dict(type='TTACAM', cam_method=dict(type='CAM'), rotations=(0, 90, 180, 270), hflip=False)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=CONFIG, help='classifier config (model + cam_cfg)')
    parser.add_argument('--checkpoint', help='weights (weights_only); default: random init')
    parser.add_argument('--num-images', type=int, default=64)
    parser.add_argument('--size', type=int, default=128, help='image side in pixels')
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args(argv)


def naive_loop(model, dataset, out_dir: str, mask_maker, device: str) -> None:
    """One image at a time, each rotation its own forward pass."""
    tta = TTACAM(dict(type='CAM'), rotations=(0, 90, 180, 270), hflip=False)
    classes = dataset.metainfo['cls_classes']
    for index in range(len(dataset)):
        data = model.data_preprocessor(pseudo_collate([dataset[index]]), False)
        inputs, sample = data['inputs'], data['data_samples'][0]
        with torch.no_grad():
            scores = model(inputs, mode='tensor').sigmoid()[0].cpu().numpy()
        cam = tta(model, inputs)[0].cpu().numpy()
        cam = np.round(cam * 255).astype(np.uint8).astype(np.float32) / 255
        stem = osp.splitext(osp.basename(sample.img_path))[0]
        save_cam(osp.join(out_dir, 'cams', f'{stem}.npz'), cam, scores, classes, sample.img_path)
        save_label_png(osp.join(out_dir, 'masks', f'{stem}.png'),
                       mask_maker(cam[0]).astype(np.uint8))


def compare(dataset, naive_dir: str, batched_dir: str) -> dict:
    """Largest CAM difference (uint8 steps) and share of identical mask pixels."""
    cam_steps, same_pixels, total = 0, 0, 0
    for index in range(len(dataset)):
        stem = osp.splitext(osp.basename(dataset.get_data_info(index)['img_path']))[0]
        a = load_cam(osp.join(naive_dir, 'cams', f'{stem}.npz')).cam
        b = load_cam(osp.join(batched_dir, 'cams', f'{stem}.npz')).cam
        cam_steps = max(cam_steps, int(np.round(np.abs(a - b).max() * 255)))
        mask_a = load_label_png(osp.join(naive_dir, 'masks', f'{stem}.png'))
        mask_b = load_label_png(osp.join(batched_dir, 'masks', f'{stem}.png'))
        same_pixels += int((mask_a == mask_b).sum())
        total += mask_a.size
    return dict(max_cam_difference_uint8=cam_steps, identical_mask_pixels=same_pixels / total)


def nhwc_difference(model, dataset, batch_size: int) -> float:
    """Largest float CAM difference, stacked TTA with vs without channels-last, one batch."""
    count = min(batch_size, len(dataset))
    inputs = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(count)]),
                                     False)['inputs']
    tta = build_cam_method(TTA)
    plain = compute_cams(tta, model, inputs, nhwc=False)
    return float((compute_cams(tta, model, inputs, nhwc=True) - plain).abs().max())


def naive_difference(model, dataset, batch_size: int) -> float:
    """Largest float CAM difference, batched (stacked, channels-last) vs naive, one batch."""
    count = min(batch_size, len(dataset))
    inputs = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(count)]),
                                     False)['inputs']
    naive = TTACAM(dict(type='CAM'), rotations=(0, 90, 180, 270), hflip=False)
    expected = torch.cat([naive(model, inputs[i:i + 1]) for i in range(count)])
    return float((compute_cams(build_cam_method(TTA), model, inputs) - expected).abs().max())


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    torch.manual_seed(0)
    model = init_model(cfg, args.checkpoint, device=args.device)
    mask_cfg = cfg.cam_cfg.mask_maker.to_dict()
    mask_maker = MASK_MAKERS.build(mask_cfg)
    work = tempfile.mkdtemp(prefix='cam_throughput_')
    try:
        generate_camelyon_like(osp.join(work, 'data'), num_train=1, num_val=1,
                               num_test=args.num_images, patch_size=args.size,
                               positive_ratio=1.0, seed=0)
        dataset = DATASETS.build(dict(
            type='CamelyonPatchDataset', data_root=osp.join(work, 'data'),
            data_prefix=dict(img_path='test/image'),
            pipeline=[dict(type='LoadPatchImage'), dict(type='PackPatchInputs')]))
        with torch.no_grad():  # warm-up
            model(model.data_preprocessor(pseudo_collate([dataset[0]]))['inputs'], mode='tensor')
        load_before = load_average()
        times = dict(naive=[], batched=[])
        for repeat in range(args.repeats):
            naive_dir = osp.join(work, f'naive{repeat}')
            start = time.perf_counter()
            naive_loop(model, dataset, naive_dir, mask_maker, args.device)
            times['naive'].append(time.perf_counter() - start)
            batched_dir = osp.join(work, f'batched{repeat}')
            start = time.perf_counter()
            generate_cams(model, dataset, batched_dir, cam_method=TTA, mask_maker=mask_cfg,
                          batch_size=args.batch_size, device=args.device, progress=False)
            times['batched'].append(time.perf_counter() - start)
        agreement = compare(dataset, naive_dir, batched_dir)
        agreement['max_abs_diff_nhwc'] = nhwc_difference(model, dataset, args.batch_size)
        agreement['max_abs_diff_vs_naive'] = naive_difference(model, dataset, args.batch_size)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = dict(images=args.num_images, size=args.size, batch_size=args.batch_size,
                  threads=args.threads, device=args.device, tta_copies=4,
                  naive_images_per_s=args.num_images / min(times['naive']),
                  batched_images_per_s=args.num_images / min(times['batched']),
                  seconds=times, **agreement, load_average_before=load_before,
                  load_average_after=load_average(), machine=machine_info(args.device))
    result['speedup'] = result['batched_images_per_s'] / result['naive_images_per_s']
    print(f"{args.num_images} images of {args.size} px, 4-rotation TTA, {args.threads} "
          f"thread(s), {args.device}:\n"
          f"  naive loop (1 image, 1 rotation per pass): "
          f"{result['naive_images_per_s']:.1f} images/s\n"
          f"  generate_cams (batch {args.batch_size}, rotations stacked): "
          f"{result['batched_images_per_s']:.1f} images/s\n"
          f"  speed-up: {result['speedup']:.2f}x\n"
          f"  outputs: CAMs differ by at most {agreement['max_cam_difference_uint8']} uint8 "
          f"step(s); {100 * agreement['identical_mask_pixels']:.3f} % of mask pixels identical; "
          f"channels-last vs default format: max abs CAM difference "
          f"{agreement['max_abs_diff_nhwc']:.3g}; float CAMs vs naive (one batch): max abs "
          f"difference {agreement['max_abs_diff_vs_naive']:.3g}\n"
          f"  load average before/after: {load_before} / {result['load_average_after']}")
    assert agreement['max_abs_diff_nhwc'] == 0, 'channels-last changed the CAM values'
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as stream:
            json.dump(result, stream, indent=2)
    return result


if __name__ == '__main__':
    main()
