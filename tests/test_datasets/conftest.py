"""Tiny on-disk dataset trees (32x32 PNGs) in each real layout, written with cv2 / PIL."""
import os
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope
from PIL import Image

import epsam  # noqa: F401  (mmcv ops fallback before any mmseg model import)

SIZE = 32
BCSS_PALETTE = [255, 0, 0, 0, 255, 0, 0, 0, 255, 153, 0, 255, 255, 255, 255]


def write_rgb(path: str, seed: int = 0, size=(SIZE, SIZE)) -> np.ndarray:
    """Random RGB patch; returns the BGR array written."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    assert cv2.imwrite(path, img)
    return img


def write_gray(path: str, mask: np.ndarray) -> None:
    """Single-channel PNG (8- or 16-bit)."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, mask)


def write_palette(path: str, mask: np.ndarray, palette=BCSS_PALETTE) -> None:
    """Palette PNG holding class indices."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    img = Image.fromarray(mask.astype(np.uint8), mode='P')
    img.putpalette(list(palette) + [0] * (768 - len(palette)))  # 8-bit, so 255 survives
    img.save(path)


def index_mask(present, background: int, size: int = SIZE) -> np.ndarray:
    """Mask with background everywhere and one horizontal band per present class index."""
    mask = np.full((size, size), background, np.uint8)
    for i, cls in enumerate(present):
        mask[i * 4:(i + 1) * 4, :] = cls
    return mask


def binary_mask(value: int = 255, size: int = SIZE) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[8:24, 8:24] = value
    return mask


CAMELYON_NAMES = ('normal_002_5_6_0.png', 'tumor_001_12_34_1.png', 'tumor_001_40_41_1.png')


def make_camelyon_tree(root: str, splits=('train', 'val', 'test')) -> str:
    """``{split}/image/{patch_id}_{label}.png`` and masks (0/255) for positives."""
    for s, split in enumerate(splits):
        for i, name in enumerate(CAMELYON_NAMES):
            write_rgb(osp.join(root, split, 'image', name), seed=10 * s + i)
            if name.endswith('_1.png'):
                write_gray(osp.join(root, split, 'mask', name), binary_mask())
    return root


BCSS_TRAIN = {
    'TCGA-A2-A0CM-DX1_xmin18251_ymin56009_MPP-0.2500+0[1101].png': [1, 1, 0, 1],
    'TCGA-A2-A0CM-DX1_xmin18475_ymin56009_MPP-0.2500+0[0110].png': [0, 1, 1, 0],
}
# val/test images: class indices present in the mask (4 = background).
BCSS_EVAL = {'TCGA-AR-A1AQ-DX1_001.png': (0, 1), 'TCGA-AR-A1AQ-DX1_002.png': (2, 3)}


def make_bcss_tree(root: str, train_dir: str = 'training') -> str:
    """``training/*+0[abcd].png``; ``{val,test}/{img,mask}`` with palette masks."""
    for i, name in enumerate(BCSS_TRAIN):
        write_rgb(osp.join(root, train_dir, name), seed=i)
    for split in ('val', 'test'):
        for i, (name, present) in enumerate(BCSS_EVAL.items()):
            write_rgb(osp.join(root, split, 'img', name), seed=20 + i)
            write_palette(osp.join(root, split, 'mask', name), index_mask(present, 4))
    return root


LUAD_TRAIN = {'1031280-2300-27920-[1 0 0 1].png': [1, 0, 0, 1],
              '1031280-2300-28144-[0 1 1 0].png': [0, 1, 1, 0]}


def make_luad_tree(root: str) -> str:
    """``train/*-[a b c d].png``; ``{val,test}/{img,mask}``, background 4."""
    for i, name in enumerate(LUAD_TRAIN):
        write_rgb(osp.join(root, 'train', name), seed=i)
    for split in ('val', 'test'):
        for i, (name, present) in enumerate(BCSS_EVAL.items()):
            write_rgb(osp.join(root, split, 'img', name), seed=30 + i)
            write_palette(osp.join(root, split, 'mask', name), index_mask(present, 4))
    return root


WSSS4LUAD_TRAIN = {'436219-7159-48057-[1, 1, 0].png': [1, 1, 0],
                   '436219-7159-48281-[0, 0, 1].png': [0, 0, 1]}
WSSS4LUAD_EVAL = {'00.png': (0, 2), '01.png': (1, )}


def make_wsss4luad_tree(root: str) -> str:
    """``1.training/*-[a, b, c].png``; ``{2.validation,3.testing}/{img,mask}``, background 3."""
    for i, name in enumerate(WSSS4LUAD_TRAIN):
        write_rgb(osp.join(root, '1.training', name), seed=i)
    for split in ('2.validation', '3.testing'):
        for i, (name, present) in enumerate(WSSS4LUAD_EVAL.items()):
            write_rgb(osp.join(root, split, 'img', name), seed=40 + i)
            write_palette(osp.join(root, split, 'mask', name), index_mask(present, 3))
    return root


@pytest.fixture(autouse=True)
def epsam_scope():
    """Build pipeline transforms by plain type name, as configs do with default_scope='epsam'."""
    init_default_scope('epsam')


@pytest.fixture
def trees():
    """The tree writers (each takes a root folder and returns it) and their file names."""
    return SimpleNamespace(
        camelyon=make_camelyon_tree, bcss=make_bcss_tree, luad=make_luad_tree,
        wsss4luad=make_wsss4luad_tree, camelyon_names=CAMELYON_NAMES, bcss_train=BCSS_TRAIN,
        bcss_eval=BCSS_EVAL, luad_train=LUAD_TRAIN, wsss4luad_train=WSSS4LUAD_TRAIN,
        wsss4luad_eval=WSSS4LUAD_EVAL)


@pytest.fixture
def files():
    """Low-level writers for single files."""
    return SimpleNamespace(rgb=write_rgb, gray=write_gray, palette=write_palette,
                           index_mask=index_mask, binary_mask=binary_mask)
