"""Fill a SAM embedding cache with the tiny SAM, one image per call (fault tests kill it).

Usage::

    python embedding_cache.py SAM_CKPT IMG_DIR CACHE_DIR

Prints the cache counters as one JSON line (``STATS {...}``).
"""
import json
import os
import sys
import time

import cv2
import torch

import epsam  # noqa: F401
from epsam.models.sam import SamEmbeddingCache, build_sam


def run(sam_checkpoint: str, img_dir: str, cache_dir: str, pause_s: float = 0.0) -> dict:
    """Embed every image of ``img_dir`` (sorted) through the cache; returns its counters.

    ``pause_s`` after each image stands in for a slower encoder: on an idle
    machine the tiny encoder is fast enough to finish every image between the
    poll that sees the kill point and the signal.
    """
    sam = build_sam('tiny', checkpoint=str(sam_checkpoint))
    cache = SamEmbeddingCache(cache_dir, sam.image_encoder, encoder_tag='tiny', batch_size=1)
    for name in sorted(os.listdir(img_dir)):
        rgb = cv2.imread(os.path.join(img_dir, name))[..., ::-1].copy()
        cache.get_or_compute([torch.from_numpy(rgb).permute(2, 0, 1)])
        time.sleep(pause_s)
    return cache.stats()


def main() -> None:
    torch.set_num_threads(1)
    print('STATS ' + json.dumps(run(*sys.argv[1:4], pause_s=0.05)), flush=True)


if __name__ == '__main__':
    main()
