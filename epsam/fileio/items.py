"""Work items of the pseudo-label generator and per-item random generators."""
import os
import os.path as osp
import zlib
from typing import List, NamedTuple, Optional, Sequence

import numpy as np

__all__ = ['PseudoLabelItem', 'file_stem', 'item_rng', 'items_from_cam_dir', 'check_unique_stems']


class PseudoLabelItem(NamedTuple):
    """One positive patch to pseudo-label.

    Args:
        img_path: The RGB patch.
        cam_path: Its CAM file (``cams/{stem}.npz`` of the CAM stage).
        mask_path: Its initial (CAM) mask (``masks/{stem}.png`` of the CAM stage).
    """

    img_path: str
    cam_path: str
    mask_path: str

    @property
    def stem(self) -> str:
        """File name of the image without its suffix: the key of every output."""
        return file_stem(self.img_path)


def file_stem(path: str) -> str:
    """``'/a/b/tumor_001_1.png'`` -> ``'tumor_001_1'``."""
    return osp.splitext(osp.basename(os.fspath(path)))[0]


def item_rng(seed: int, key: str) -> np.random.Generator:
    """A generator that depends only on ``(seed, key)``.

    The key (an image stem) is hashed with CRC-32, which is stable across
    Python processes (unlike ``hash``), so an image's prompts do not depend on
    batch order, sharding or the process drawing them.

    Args:
        seed: Base seed (a non-negative int).
        key: Identifier of the item, e.g. its stem.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f'seed must be a non-negative int, got {seed!r}')
    return np.random.default_rng([int(seed), zlib.crc32(key.encode('utf-8'))])


def check_unique_stems(items: Sequence[PseudoLabelItem]) -> None:
    """Raise ``ValueError`` naming the stems shared by several items (outputs would clash)."""
    seen, clashes = {}, []
    for item in items:
        if item.stem in seen:
            clashes.append(f'{item.stem!r} ({seen[item.stem]} and {item.img_path})')
        seen.setdefault(item.stem, item.img_path)
    if clashes:
        raise ValueError(f'{len(clashes)} image stem(s) occur twice; outputs are named by stem: '
                         + '; '.join(clashes[:10]))


def items_from_cam_dir(img_dir: str, cam_dir: str, img_suffix: str = '.png',
                       stems: Optional[Sequence[str]] = None) -> List[PseudoLabelItem]:
    """Items for every image that has both a CAM and an initial mask (positive patches).

    Args:
        img_dir: Folder of the images ``{stem}{img_suffix}``.
        cam_dir: Output folder of the CAM stage (holding ``cams/`` and ``masks/``).
        img_suffix: Image file suffix.
        stems: Restrict to these stems; ``None`` takes every masked image.

    Returns:
        Items sorted by stem.

    Raises:
        FileNotFoundError: a folder is missing, or a mask has no CAM or image.
    """
    mask_dir, npz_dir = osp.join(cam_dir, 'masks'), osp.join(cam_dir, 'cams')
    for folder in (img_dir, mask_dir, npz_dir):
        if not osp.isdir(folder):
            raise FileNotFoundError(f'folder {folder!r} does not exist')
    masked = sorted(file_stem(name) for name in os.listdir(mask_dir)
                    if name.endswith('.png') and not name.startswith('.'))
    if stems is not None:
        wanted = set(stems)
        masked = [stem for stem in masked if stem in wanted]
    items, missing = [], []
    for stem in masked:
        item = PseudoLabelItem(osp.join(img_dir, stem + img_suffix),
                               osp.join(npz_dir, stem + '.npz'), osp.join(mask_dir, stem + '.png'))
        absent = [path for path in item[:2] if not osp.isfile(path)]
        if absent:
            missing.extend(absent)
        else:
            items.append(item)
    if missing:
        raise FileNotFoundError(f'{len(missing)} file(s) expected beside the masks in '
                                f'{mask_dir!r} are missing: {missing[:10]}')
    return items
