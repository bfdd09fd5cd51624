"""Pseudo-label a CAM folder with the tiny SAM (fault tests run it, kill it, rerun it).

Usage::

    python pseudo_labels.py SAM_CKPT IMG_DIR CAM_DIR OUT [--batch-size N]
    torchrun --nproc_per_node 2 pseudo_labels.py ...   # ranks share the batches (gloo)

Prints the report's counts as one JSON line (``REPORT {...}``).
"""
import argparse
import json
import os

import torch

import epsam  # noqa: F401
from epsam.fileio.items import items_from_cam_dir
from epsam.models.sam import build_sam
from epsam.pseudo_labels import PseudoLabelGenerator


def run(sam_checkpoint: str, img_dir: str, cam_dir: str, out: str, batch_size: int = 1,
        rank: int = 0, world_size: int = 1) -> dict:
    """Pseudo-label this rank's share; returns the report's counts."""
    generator = PseudoLabelGenerator(
        build_sam('tiny', checkpoint=str(sam_checkpoint)),
        dict(type='ProbabilisticPointPrompt', num_points=10),
        dict(type='IDSSelector', threshold=0.0), batch_size=batch_size, seed=0,
        progress=False)
    items = items_from_cam_dir(str(img_dir), str(cam_dir))
    report = generator.run(items, str(out), rank=rank, world_size=world_size)
    if world_size > 1:
        import torch.distributed as dist
        dist.barrier()
        if rank == 0 and report.summary is None:
            generator.summarise(items, str(out))
        dist.barrier()
    fields = ('items', 'skipped', 'kept', 'rejected', 'empty_prompts', 'images_encoded')
    return {key: getattr(report, key) for key in fields}


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ('sam_checkpoint', 'img_dir', 'cam_dir', 'out'):
        parser.add_argument(name)
    parser.add_argument('--batch-size', type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    world_size = int(os.environ.get('WORLD_SIZE', 1))
    if world_size > 1:
        import torch.distributed as dist
        dist.init_process_group(backend='gloo')
    counts = run(args.sam_checkpoint, args.img_dir, args.cam_dir, args.out, args.batch_size,
                 rank=int(os.environ.get('RANK', 0)), world_size=world_size)
    if world_size > 1:
        dist.destroy_process_group()
    print('REPORT ' + json.dumps(counts), flush=True)


if __name__ == '__main__':
    main()
