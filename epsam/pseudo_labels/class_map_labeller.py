"""Class-map pseudo-labels: CAM-prompted SAM one tissue class at a time, merged.

The multi-class counterpart of :class:`~.generator.PseudoLabelGenerator`.

For each image of a CAM folder and each tissue class ``k`` in its image label
(the CAM stage's record: the weak label, or the classifier's prediction where
the split was labelled that way):

1. prompts are drawn from CAM channel ``k`` inside the initial class map's
   region of class ``k`` (the generator is seeded by ``(seed, 'stem#k')``);
2. SAM (the image encoded once for all its classes) predicts a binary mask;
3. the selector judges that mask against the region of class ``k``;
4. the kept masks are merged by :func:`~epsam.pseudo_labels.merge_class_masks`
   (overlaps by CAM or SAM score, white glass = background, 255 where no
   class is confident).

An image without any kept class mask gets no class map.
"""
import json
import os.path as osp
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch

from epsam.fileio.cam_store import load_cam, load_label_png
from epsam.fileio.items import PseudoLabelItem, item_rng, items_from_cam_dir
from epsam.fileio.patch_io import read_patch_image
from epsam.registry import PSEUDO_LABEL_SELECTORS, build_if_config

from .multiclass import merge_class_masks
from .sam_inference import BatchedSamPredictor

__all__ = ['ClassItem', 'ClassMapResult', 'ClassMapLabeller', 'class_items_from_cam_dir',
           'DEFAULT_MERGE']

#: Defaults of the pipeline config's ``class_merge`` section.
DEFAULT_MERGE = dict(resolve='cam', min_confidence=0.2, min_sam_score=None,
                     white_threshold=230)


class ClassItem(NamedTuple):
    """One image of a CAM folder with the tissue classes it is labelled with.

    Args:
        item: Image, CAM file and initial class map.
        label: ``(K,)`` bool image label (from the CAM stage's record).
    """

    item: PseudoLabelItem
    label: np.ndarray

    @property
    def stem(self) -> str:
        return self.item.stem


class ClassMapResult(NamedTuple):
    """What SAM and the selector made of one image.

    Args:
        stem: The image stem.
        class_map: ``(H, W)`` uint8 merged map (tissue classes, background,
            255), or ``None`` when no class mask was kept.
        classes: Per labelled class: ``class``, ``status`` (``'kept'``,
            ``'rejected'``, ``'empty_prompts'``), ``score``, ``predicted_iou``.
    """

    stem: str
    class_map: Optional[np.ndarray]
    classes: List[dict]


def class_items_from_cam_dir(img_dir: str, cam_dir: str) -> List[ClassItem]:
    """Items of every masked image of a CAM folder, with the label its record holds.

    Raises:
        FileNotFoundError: a folder, a CAM file or a record is missing.
        ValueError: a record holds no label.
    """
    items = []
    for item in items_from_cam_dir(img_dir, cam_dir):
        path = osp.join(cam_dir, 'records', f'{item.stem}.json')
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: the CAM stage left no record for {item.stem!r}')
        with open(path, encoding='utf-8') as stream:
            label = json.load(stream).get('label')
        if label is None:
            raise ValueError(f'{path}: the record has no image label ("label"); the '
                             'multi-class pipeline needs one per masked image')
        items.append(ClassItem(item, np.asarray(label, dtype=bool)))
    return items


class ClassMapLabeller:
    """Per-class SAM masks of CAM-folder images, selected and merged into class maps.

    Args:
        sam: A built SAM (eval mode is set).
        prompt_generator: ``PROMPT_GENERATORS`` config or generator, called
            with one class's CAM (H, W) and that class's initial region.
        selector: ``PSEUDO_LABEL_SELECTORS`` config or selector, judging one
            class's SAM mask against that class's initial region.
        background_index: Class-map value of background (K for BCSS-WSSS).
        merge: ``resolve`` ('cam' or 'sam'), ``min_confidence``,
            ``min_sam_score`` and ``white_threshold`` (0-255, None: no glass
            prior); see :data:`DEFAULT_MERGE` and ``merge_class_masks``.
        batch_size: Images per encoder pass.
        device: Where SAM runs.
        cache: Optional source of image embeddings (an embedding cache, or an
            ``AdaptedSamEmbedder`` for an adapter-tuned SAM).
        seed: Base seed of the prompt generators.
        ignore_index: Class-map value of undecided pixels.
    """

    def __init__(self,
                 sam: torch.nn.Module,
                 prompt_generator: Union[dict, object],
                 selector: Union[dict, object],
                 *,
                 background_index: int,
                 merge: Optional[dict] = None,
                 batch_size: int = 4,
                 device: Union[str, torch.device] = 'cpu',
                 cache: Optional[object] = None,
                 seed: int = 0,
                 ignore_index: int = 255) -> None:
        self.predictor = BatchedSamPredictor(sam, prompt_generator, batch_size=batch_size,
                                             device=device, cache=cache, seed=seed)
        self.selector = build_if_config(PSEUDO_LABEL_SELECTORS, selector)
        unknown = set(merge or {}) - set(DEFAULT_MERGE)
        if unknown:
            raise ValueError(f'merge settings {sorted(unknown)} are unknown; allowed: '
                             f'{sorted(DEFAULT_MERGE)}')
        self.merge = dict(DEFAULT_MERGE, **(merge or {}))
        self.background_index = int(background_index)
        self.ignore_index = int(ignore_index)

    def settings(self) -> Dict:
        """What determines the output (stored beside the pseudo-labels)."""
        return dict(prompt_generator=repr(self.predictor.prompt_generator),
                    selector=repr(self.selector), seed=self.predictor.seed,
                    merge=self.merge, background_index=self.background_index,
                    ignore_index=self.ignore_index)

    def _prepare(self, entry: ClassItem):
        image = np.ascontiguousarray(read_patch_image(entry.item.img_path)[..., ::-1])
        size = image.shape[:2]
        record = load_cam(entry.item.cam_path, image_size=size)
        if entry.label.size != record.num_classes:
            raise ValueError(f'{entry.item.cam_path}: {record.num_classes} CAM channels but '
                             f'the image label has {entry.label.size} entries')
        initial = load_label_png(entry.item.mask_path, image_size=size)
        prompts = {}
        for cls in np.flatnonzero(entry.label):
            region = initial == cls
            prompts[int(cls)] = (region, self.predictor.prompt_generator(
                record.cam[cls], region, item_rng(self.predictor.seed, f'{entry.stem}#{cls}')))
        return image, record.cam, prompts

    def _merge(self, entry: ClassItem, image: np.ndarray, cam: np.ndarray,
               masks: Dict[int, np.ndarray], scores: Dict[int, float]) -> Optional[np.ndarray]:
        if not masks:
            return None
        threshold = self.merge['white_threshold']
        white = None if threshold is None else (image > threshold).all(axis=-1)
        return merge_class_masks(
            masks, cam, scores, resolve=self.merge['resolve'],
            background_index=self.background_index, ignore_index=self.ignore_index,
            min_confidence=self.merge['min_confidence'], image_label=entry.label,
            min_sam_score=self.merge['min_sam_score'], white_mask=white)

    def label(self, entries: Sequence[ClassItem]) -> Iterator[ClassMapResult]:
        """Yield one :class:`ClassMapResult` per entry, in order."""
        size = self.predictor.batch_size
        for start in range(0, len(entries), size):
            chunk = entries[start:start + size]
            prepared = [self._prepare(entry) for entry in chunk]
            todo = [i for i, (_, _, prompts) in enumerate(prepared)
                    if any(not p.is_empty for _, p in prompts.values())]
            embeddings = self.predictor.encode([prepared[i][0] for i in todo]) if todo else []
            by_index = dict(zip(todo, embeddings))
            keys = [(i, cls) for i in todo for cls, (_, p) in prepared[i][2].items()
                    if not p.is_empty]
            decoded = dict(zip(keys, self.predictor.decode_many(
                [by_index[i] for i, _ in keys],
                [prepared[i][2][cls][1] for i, cls in keys]))) if keys else {}
            for i, (entry, (image, cam, prompts)) in enumerate(zip(chunk, prepared)):
                masks, scores, classes = {}, {}, []
                for cls, (region, prompt) in prompts.items():
                    info = dict(**{'class': cls}, status='empty_prompts', score=None,
                                predicted_iou=None)
                    if not prompt.is_empty:
                        mask, iou = decoded[i, cls]
                        verdict = self.selector(mask, region, iou)
                        info.update(status='kept' if verdict.keep else 'rejected',
                                    score=round(float(verdict.score), 6),
                                    predicted_iou=round(float(iou), 4))
                        if verdict.keep:
                            masks[cls], scores[cls] = mask, iou
                    classes.append(info)
                yield ClassMapResult(entry.stem, self._merge(entry, image, cam, masks, scores),
                                     classes)
