"""Writers of whole synthetic datasets in the Camelyon and BCSS-WSSS layouts.

Every patch has its own random generator, seeded from (seed, dataset, split,
index), so a patch does not depend on the other patches or on the split sizes,
an interrupted run can resume by skipping the files that exist, and the same
arguments always give byte-identical files.
"""
import os
from typing import Dict, Tuple

import numpy as np

from epsam.version import __version__

from .he_texture import TISSUE_CLASSES, TUMOUR, render_patch
from .label_maps import bcss_class_map, camelyon_class_map, class_presence
from .writers import (atomic_write_bytes, check_split_arguments, encode_gray_png,
                      encode_palette_png, encode_rgb_png, finish_metadata, start_metadata)

__all__ = ['generate_camelyon_like', 'generate_bcss_like', 'BCSS_PALETTE', 'patch_rng']

GENERATOR = 'epsam.datasets.synthetic'
BCSS_PALETTE = ((255, 0, 0), (0, 255, 0), (0, 0, 255), (153, 0, 255), (255, 255, 255))
_DATASET_CODES = dict(camelyon=1, bcss=2)
_SPLIT_CODES = dict(train=0, training=0, val=1, test=2)
_PATCH, _SPLIT_DRAW = 0, 1  # purposes of a generator


def patch_rng(seed: int, dataset: str, split: str, index: int,
              purpose: int = _PATCH) -> np.random.Generator:
    """Independent random generator of one patch (or of one split-level draw).

    Args:
        seed: Dataset seed (non-negative).
        dataset: ``'camelyon'`` or ``'bcss'``.
        split: Split name.
        index: Patch index within the split.
        purpose: 0 for a patch, 1 for the split-level draw (e.g. labels).

    Returns:
        np.random.Generator: PCG64 generator.
    """
    key = [seed, _DATASET_CODES[dataset], _SPLIT_CODES[split], index, purpose]
    return np.random.default_rng(np.random.SeedSequence(key))


def _check_common(counts: Dict[str, int], patch_size: int, seed: int, scale: float) -> None:
    check_split_arguments(counts, patch_size, seed)
    if scale <= 0:
        raise ValueError(f'scale must be positive, got {scale!r}')


def _write_if_missing(path: str, encode) -> bool:
    if os.path.exists(path):
        return False
    atomic_write_bytes(path, encode())
    return True


def generate_camelyon_like(out_dir: str,
                           *,
                           num_train: int = 160,
                           num_val: int = 20,
                           num_test: int = 20,
                           patch_size: int = 128,
                           positive_ratio: float = 0.5,
                           tumour_fraction: Tuple[float, float] = (0.2, 0.9),
                           scale: float = 1.0,
                           seed: int = 0) -> dict:
    """Write a binary tumour / normal patch dataset in EP-SAM's Camelyon layout.

    Files: ``{out_dir}/{train,val,test}/image/{patch_id}_{label}.png`` (RGB,
    label 1 = the patch contains tumour) and, for positive patches only,
    ``{out_dir}/{split}/mask/{patch_id}_{label}.png`` (uint8, 255 = tumour,
    0 = not), plus ``{out_dir}/metadata.json``.

    Args:
        out_dir: Dataset root (created if missing).
        num_train: Number of training patches.
        num_val: Number of validation patches.
        num_test: Number of test patches.
        patch_size: Patch side in pixels (>= 16).
        positive_ratio: Fraction of positive patches in each split, in [0, 1]
            (rounded to whole patches).
        tumour_fraction: (min, max) tumour area fraction of a positive patch,
            within (0, 1]; each positive draws its fraction uniformly in it.
        scale: Size of nuclei and textures relative to the defaults.
        seed: Non-negative seed; the same arguments give identical files.

    Returns:
        dict: ``out_dir``, ``metadata`` (path) and ``splits``: per split
        ``num_patches``, ``num_positive``, ``written``, ``skipped`` and ``folder``.
    """
    counts = dict(train=num_train, val=num_val, test=num_test)
    _check_common(counts, patch_size, seed, scale)
    if not 0.0 <= positive_ratio <= 1.0:
        raise ValueError(f'positive_ratio must lie in [0, 1], got {positive_ratio!r}')
    low, high = (float(v) for v in tumour_fraction)
    if not 0.0 < low <= high <= 1.0:
        raise ValueError('tumour_fraction must be (min, max) with 0 < min <= max <= 1, '
                         f'got {tuple(tumour_fraction)!r}')
    area = patch_size * patch_size
    if int(np.ceil(low * area)) > int(np.floor(high * area)):
        raise ValueError(f'tumour_fraction {tuple(tumour_fraction)!r} holds no whole pixel '
                         f'count for {patch_size}x{patch_size} patches')
    header = dict(
        generator=GENERATOR, version=__version__, format='camelyon', seed=int(seed),
        patch_size=int(patch_size), scale=float(scale), counts=counts,
        positive_ratio=float(positive_ratio), tumour_fraction=[low, high],
        classes=['normal', 'tumor'], cls_classes=['tumor'], mask_values={'normal': 0, 'tumor': 255})
    start_metadata(out_dir, header)

    results, summary = {}, {}
    for split, num in counts.items():
        image_dir = os.path.join(out_dir, split, 'image')
        mask_dir = os.path.join(out_dir, split, 'mask')
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(mask_dir, exist_ok=True)
        num_positive = int(round(positive_ratio * num))
        labels = np.zeros(num, np.int64)
        split_rng = patch_rng(seed, 'camelyon', split, 0, _SPLIT_DRAW)
        labels[split_rng.permutation(num)[:num_positive]] = 1
        written = skipped = 0
        for index, label in enumerate(labels):
            name = f'synth_{split}_{index:05d}_{label}.png'
            image_path = os.path.join(image_dir, name)
            mask_path = os.path.join(mask_dir, name)
            if os.path.exists(image_path) and (not label or os.path.exists(mask_path)):
                skipped += 1
                continue
            rng = patch_rng(seed, 'camelyon', split, index)
            fraction = _pixel_fraction(rng.uniform(low, high), low, high, area) if label else None
            class_map = camelyon_class_map(rng, patch_size, tumour_fraction=fraction)
            image = render_patch(rng, class_map, scale=scale)
            if label:
                mask = np.where(class_map == TUMOUR, 255, 0).astype(np.uint8)
                _write_if_missing(mask_path, lambda: encode_gray_png(mask))
            _write_if_missing(image_path, lambda: encode_rgb_png(image))
            written += 1
        summary[split] = dict(num_patches=num, num_positive=num_positive)
        results[split] = dict(summary[split], written=written, skipped=skipped,
                              folder=os.path.join(out_dir, split))
    metadata = finish_metadata(out_dir, header, summary)
    return dict(out_dir=out_dir, metadata=metadata, splits=results)


def _pixel_fraction(fraction: float, low: float, high: float, area: int) -> float:
    """Round ``fraction`` to a whole pixel count that stays inside [low, high]."""
    count = int(np.clip(round(fraction * area), np.ceil(low * area), np.floor(high * area)))
    return count / area


def generate_bcss_like(out_dir: str,
                       *,
                       num_train: int = 160,
                       num_val: int = 20,
                       num_test: int = 20,
                       patch_size: int = 128,
                       min_fraction: float = 0.03,
                       background_prob: float = 0.35,
                       scale: float = 1.0,
                       seed: int = 0) -> dict:
    """Write a 4-tissue-class patch dataset in the BCSS-WSSS layout.

    Classes (mask index): TUM 0, STR 1, LYM 2, NEC 3, background 4. Files:
    ``{out_dir}/training/{id}+0[abcd].png`` where a-d are the 0/1 presence
    flags of TUM, STR, LYM, NEC; ``{out_dir}/{val,test}/img/{id}.png`` and
    ``{out_dir}/{val,test}/mask/{id}.png`` (palette PNG, pixel value = class
    index, palette ``BCSS_PALETTE``); plus ``{out_dir}/metadata.json``.

    Args:
        out_dir: Dataset root (created if missing).
        num_train: Number of training patches (image-level labels only).
        num_val: Number of validation patches (with masks).
        num_test: Number of test patches (with masks).
        patch_size: Patch side in pixels (>= 16).
        min_fraction: Smallest area fraction of a class in a patch; a class is
            present (flag 1) exactly when it covers at least this fraction,
            since smaller regions are merged into their neighbours.
        background_prob: Probability that a patch contains background (glass).
        scale: Size of nuclei and textures relative to the defaults.
        seed: Non-negative seed; the same arguments give identical files.

    Returns:
        dict: ``out_dir``, ``metadata`` (path) and ``splits``: per split
        ``num_patches``, ``class_counts`` (patches containing each tissue
        class), ``written``, ``skipped`` and ``folder``.
    """
    counts = dict(training=num_train, val=num_val, test=num_test)
    _check_common(counts, patch_size, seed, scale)
    if not 0.0 <= min_fraction < 0.5:
        raise ValueError(f'min_fraction must lie in [0, 0.5), got {min_fraction!r}')
    if not 0.0 <= background_prob <= 1.0:
        raise ValueError(f'background_prob must lie in [0, 1], got {background_prob!r}')
    header = dict(
        generator=GENERATOR, version=__version__, format='bcss-wsss', seed=int(seed),
        patch_size=int(patch_size), scale=float(scale), counts=counts,
        min_fraction=float(min_fraction), background_prob=float(background_prob),
        classes=list(TISSUE_CLASSES), cls_classes=list(TISSUE_CLASSES[:4]),
        palette=[list(colour) for colour in BCSS_PALETTE], background_index=4)
    start_metadata(out_dir, header)

    results, summary = {}, {}
    for split, num in counts.items():
        with_masks = split != 'training'
        image_dir = os.path.join(out_dir, split, 'img' if with_masks else '')
        mask_dir = os.path.join(out_dir, split, 'mask') if with_masks else None
        for folder in filter(None, (image_dir, mask_dir)):
            os.makedirs(folder, exist_ok=True)
        class_counts = np.zeros(4, np.int64)
        written = skipped = 0
        for index in range(num):
            rng = patch_rng(seed, 'bcss', split, index)
            class_map = bcss_class_map(rng, patch_size, min_fraction=min_fraction,
                                       background_prob=background_prob)
            flags = class_presence(class_map)
            class_counts += flags
            if with_masks:
                name = f'synth_{split}_{index:05d}.png'
            else:
                name = f'synth_{index:05d}+0[{"".join(str(f) for f in flags)}].png'
            image_path = os.path.join(image_dir, name)
            mask_path = os.path.join(mask_dir, name) if with_masks else None
            if os.path.exists(image_path) and (mask_path is None or os.path.exists(mask_path)):
                skipped += 1
                continue
            image = render_patch(rng, class_map, scale=scale)
            if mask_path:
                _write_if_missing(mask_path, lambda: encode_palette_png(class_map, BCSS_PALETTE))
            _write_if_missing(image_path, lambda: encode_rgb_png(image))
            written += 1
        summary[split] = dict(
            num_patches=num, class_counts=dict(zip(TISSUE_CLASSES[:4], class_counts.tolist())))
        results[split] = dict(summary[split], written=written, skipped=skipped,
                              folder=os.path.join(out_dir, split))
    metadata = finish_metadata(out_dir, header, summary)
    return dict(out_dir=out_dir, metadata=metadata, splits=results)
