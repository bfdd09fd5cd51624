"""Per-item output of the CAM stage: quantised CAM, initial mask, picture, record.

:class:`CamItemWriter` runs on worker threads while the next batch goes
through the classifier (PNG / zlib encoding and ``fsync`` release the GIL).
Each item's files are written in a fixed order (npz, png, picture, record),
so the record still marks a finished item, and the bytes do not depend on
which thread wrote them.
"""
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Deque, Dict, Optional, Sequence, Tuple

import numpy as np
import torch.nn.functional as F
from torch import Tensor

from epsam.fileio.cam_store import quantise_cam, save_cam, save_label_png
from epsam.visualization.cam_grid import make_cam_grid, save_picture

from .batch_compute import image_hwc, make_mask
from .cam_folder import MASKED, NEGATIVE, CamFolder

__all__ = ['CamItemWriter', 'has_foreground']


def has_foreground(mask: np.ndarray, mask_maker, num_classes: int) -> bool:
    """Binary masks: any 1; class maps: any pixel of a class (not background, not ignore)."""
    if hasattr(mask_maker, 'background_alpha'):  # MultiClassMaskMaker-like class map
        background = mask_maker.background_index
        background = num_classes if background is None else background
        return bool(((mask != background) & (mask != mask_maker.ignore_index)).any())
    return bool((mask == 1).any())


class CamItemWriter:
    """Turn one item's CAM into its files and record, inline or on worker threads.

    Args:
        folder: The output folder.
        mask_maker: The built mask maker.
        cls_classes: Class names of the CAM channels.
        vis_stems: Stems that get a picture grid.
        palette: RGB per mask index, for the pictures.
        workers: Worker threads; 0 writes inline.
        max_pending: Items queued before :meth:`submit` waits for the oldest.
    """

    def __init__(self, folder: CamFolder, mask_maker: Callable, cls_classes: Sequence[str],
                 vis_stems=(), palette: Optional[Sequence] = None, workers: int = 2,
                 max_pending: int = 32) -> None:
        self.folder = folder
        self.mask_maker = mask_maker
        self.cls_classes = tuple(cls_classes)
        self.vis_stems = set(vis_stems)
        self.palette = palette
        self.max_pending = max(int(max_pending), 1)
        self.pool = ThreadPoolExecutor(max_workers=workers) if workers > 0 else None
        self.pending: Deque[Future] = deque()
        self.lock = threading.Lock()
        self.counts = dict(masked=0, negative=0, empty_cams=0, empty_masks=0, vis_written=0)
        self.seconds = dict(masks=0.0, write=0.0)

    def submit(self, record: Dict, cam: Optional[Tensor] = None, packed: Optional[dict] = None,
               sample=None, label: Optional[np.ndarray] = None) -> None:
        """Finish one item: with a CAM, write its files (masked); without, a negative record.

        Args:
            record: ``stem``, ``img_path``, ``positive``, ``label``, ``scores``.
            cam: (K, H, W) CAM in [0, 1] at the network input size (CPU).
            packed: The item's pipeline output (its image).
            sample: The item's data sample (``ori_shape``, ``gt_sem_seg``).
            label: (K,) bool image label, or None.
        """
        if self.pool is None:
            self._finish(record, cam, packed, sample, label)
            return
        self.pending.append(self.pool.submit(self._finish, record, cam, packed, sample, label))
        while len(self.pending) > self.max_pending:
            self.pending.popleft().result()

    def close(self) -> None:
        """Wait for every queued item (re-raising a worker's error) and stop the threads."""
        try:
            while self.pending:
                self.pending.popleft().result()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)

    def _finish(self, record, cam, packed, sample, label) -> None:
        if cam is None:
            record['status'] = NEGATIVE
            self.folder.write_record(record)
            self._add(dict(negative=1), {})
            return
        start = time.perf_counter()
        cam_values, mask, image = self._mask(cam, packed, sample, label, record['img_path'])
        stored = np.round(cam_values * 255)
        channels = np.flatnonzero(label) if label is not None and label.any() \
            else np.arange(stored.shape[0])
        empty_cam = not stored[channels].any()
        empty_mask = not has_foreground(mask, self.mask_maker, stored.shape[0])
        masks_seconds = time.perf_counter() - start
        start = time.perf_counter()
        stem = record['stem']
        save_cam(self.folder.cam_path(stem), cam_values, record['scores'], self.cls_classes,
                 record['img_path'])
        save_label_png(self.folder.mask_path(stem), mask)
        vis = int(stem in self.vis_stems)
        if vis:
            self._visualize(stem, image, cam_values, mask, sample, record['scores'])
        record.update(status=MASKED, empty_cam=bool(empty_cam), empty_mask=bool(empty_mask),
                      foreground_fraction=round(float((mask != 0).mean()), 6)
                      if mask.max() <= 1 else None,
                      cam=f'cams/{stem}.npz', mask=f'masks/{stem}.png')
        self.folder.write_record(record)
        self._add(dict(masked=1, empty_cams=int(empty_cam), empty_masks=int(empty_mask),
                       vis_written=vis),
                  dict(masks=masks_seconds, write=time.perf_counter() - start))

    def _mask(self, cam: Tensor, packed: dict, sample, label,
              img_path: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stored CAM values (K, H, W), mask (H, W) and BGR image at the image's size."""
        height, width = (int(v) for v in sample.ori_shape[:2])
        if tuple(cam.shape[-2:]) != (height, width):  # the pipeline resized the image
            cam = F.interpolate(cam[None].float(), size=(height, width), mode='bilinear',
                                align_corners=False)[0].clamp(0, 1)
        # The mask is made from the stored (quantised) CAM: the npz alone reproduces it.
        cam_values = quantise_cam(cam.detach().float().numpy()).astype(np.float32) / 255.0
        image = image_hwc(packed, sample, (height, width))
        return cam_values, make_mask(self.mask_maker, cam_values, label, image, img_path), image

    def _visualize(self, stem, image, cam_values, mask, sample, scores) -> None:
        gt = None
        if 'gt_sem_seg' in sample:
            gt = sample.gt_sem_seg.data.detach().cpu().numpy()[0].astype(np.uint8)
            gt = gt if gt.shape == mask.shape else None
        grid = make_cam_grid(image[..., ::-1], cam_values, mask, gt,
                             class_names=self.cls_classes, palette=self.palette, scores=scores,
                             title=stem)
        save_picture(self.folder.vis_path(stem), grid)

    def _add(self, counts: Dict[str, int], seconds: Dict[str, float]) -> None:
        with self.lock:
            for key, value in counts.items():
                self.counts[key] += value
            for key, value in seconds.items():
                self.seconds[key] += value
