"""SAM prompts in data pipelines: drawn from a mask (training) or a CAM (inference).

Both prompt transforms write, in the pixel frame of ``results['img']`` *as it
is when they run*:

- ``prompt_points``: ``(N, 2)`` float32 ``(x, y)`` pixel indices;
- ``prompt_labels``: ``(N,)`` int64, 1 = foreground, 0 = background;
- ``prompt_boxes``: ``(M, 4)`` float32 XYXY, inclusive pixel indices.

They must therefore run **after** every geometric transform (flips,
``RandomRotate90``, crops, resizes): the training transform draws its points
from the already augmented mask, so no coordinate needs mapping. To catch a
pipeline in the wrong order, each prompt transform records the frame it used
(image shape, flip, flip direction, rot90 turns) and :class:`PackSamInputs`
refuses a sample whose frame changed afterwards.
"""
import os.path as osp
from typing import Optional, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from epsam.fileio.cam_store import load_cam, load_label_png
from epsam.fileio.errors import PatchFileError
from epsam.fileio.items import file_stem, item_rng
from epsam.prompts import BasePromptGenerator, Prompts
from epsam.registry import PROMPT_GENERATORS, TRANSFORMS, build_if_config

from .formatting import PackPatchInputs

__all__ = ['GenerateMaskPrompts', 'LoadCamPrompts', 'PackSamInputs']

PROMPT_KEYS = ('prompt_points', 'prompt_labels', 'prompt_boxes')
_FRAME_KEY = 'prompt_frame'


def _frame_of(results: dict) -> tuple:
    """What identifies the current pixel frame of ``results['img']``."""
    return (tuple(int(s) for s in results['img'].shape[:2]), results.get('flip'),
            results.get('flip_direction'), results.get('rotate90_k'))


def _store_prompts(results: dict, prompts: Prompts, where: str) -> dict:
    if prompts.mask_input is not None:
        raise ValueError(f'{where}: dense mask prompts are not carried on data samples; '
                         'use point or box prompt generators')
    results['prompt_points'] = prompts.point_coords.astype(np.float32)
    results['prompt_labels'] = prompts.point_labels.astype(np.int64)
    results['prompt_boxes'] = prompts.boxes.astype(np.float32)
    results[_FRAME_KEY] = _frame_of(results)
    return results


def _sample_key(results: dict) -> str:
    """The stem of the image (stable across datasets and orderings), else the sample index."""
    if results.get('img_path'):
        return file_stem(results['img_path'])
    if 'sample_idx' in results:
        return f"sample_{results['sample_idx']}"
    raise KeyError('a seeded prompt transform needs img_path or sample_idx in the results')


@TRANSFORMS.register_module()
class GenerateMaskPrompts(BaseTransform):
    """Training prompts drawn from the (augmented) target mask.

    EP-SAM fine-tunes SAM's decoder on the initial CAM masks with 50 points
    drawn uniformly inside the mask. The generator gets the foreground as the
    mask and, as the "CAM", 1 on the foreground, 0.5 on ignored pixels
    (uncertain) and 0 elsewhere, so any registered prompt generator works:
    negative points (``cam_threshold <= 0.5``) never land on ignored pixels,
    and a dense mask prompt is neutral (logit 0) there.

    Randomness (the choice made here): with ``seed=None`` (default, for
    training) prompts come from NumPy's global generator, like every other
    random mmcv transform, so they change every epoch and are reproducible
    when the runner is seeded (``randomness=dict(seed=...)``; add
    ``ReseedHook`` for exact resumes). A transform cannot know the epoch,
    so with an int ``seed`` the generator depends only on ``(seed, image
    stem)``: the same draw every epoch, in every worker and order (for
    validation pipelines and tests). Under geometric augmentation the same
    draw still picks different pixels, as the mask's pixel order changes.

    Required keys: ``img``, ``mask_key``. Added keys: ``prompt_points``,
    ``prompt_labels``, ``prompt_boxes``, ``prompt_frame``.

    Args:
        generator: Prompt generator or its ``PROMPT_GENERATORS`` config.
        seed: ``None`` for fresh prompts each call, or an int for prompts
            fixed per image (see above).
        mask_key: The results key of the mask (class indices).
        foreground_value: The mask value that is foreground.
        ignore_index: The mask value of ignored (undecided) pixels.
    """

    def __init__(self,
                 generator: Union[dict, BasePromptGenerator] = dict(
                     type='UniformPointPrompt', num_points=50),
                 seed: Optional[int] = None,
                 mask_key: str = 'gt_seg_map',
                 foreground_value: int = 1,
                 ignore_index: int = 255) -> None:
        self.generator = build_if_config(PROMPT_GENERATORS, generator)
        if seed is not None:
            item_rng(seed, '')  # validates the seed
        self.seed = seed
        self.mask_key = mask_key
        self.foreground_value = int(foreground_value)
        self.ignore_index = int(ignore_index)

    def _rng(self, results: dict) -> np.random.Generator:
        if self.seed is None:
            return np.random.default_rng(np.random.randint(0, 2**31 - 1))
        return item_rng(self.seed, _sample_key(results))

    def transform(self, results: dict) -> dict:
        """Draw prompts from ``results[mask_key] == foreground_value``."""
        where = f"{type(self).__name__} on {results.get('img_path')}"
        if self.mask_key not in results:
            raise KeyError(f'{where}: no {self.mask_key!r} in the results; load the mask '
                           'first (LoadPatchAnnotations)')
        mask = np.asarray(results[self.mask_key])
        if mask.shape != results['img'].shape[:2]:
            raise ValueError(f'{where}: mask shape {mask.shape} differs from the image shape '
                             f"{results['img'].shape[:2]}")
        foreground = mask == self.foreground_value
        cam = np.where(foreground, 1.0, np.where(mask == self.ignore_index, 0.5, 0.0))
        prompts = self.generator(cam, foreground, self._rng(results))
        return _store_prompts(results, prompts, where)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(generator={self.generator!r}, seed={self.seed}, '
                f'mask_key={self.mask_key!r}, foreground_value={self.foreground_value}, '
                f'ignore_index={self.ignore_index})')


@TRANSFORMS.register_module()
class LoadCamPrompts(BaseTransform):
    """Inference prompts from the CAM stage's files of the image.

    Reads ``{cam_dir}/cams/{stem}.npz`` and ``{cam_dir}/masks/{stem}.png``
    (``stem`` = image file name without suffix) and draws prompts with a
    generator seeded by ``(seed, stem)`` -- the same prompts
    :class:`~epsam.pseudo_labels.PseudoLabelGenerator` draws with the same
    generator and seed. The CAM files are in the image's original frame, so
    this transform refuses to run after a geometric transform; and like every
    prompt transform, nothing geometric may follow it (checked by
    :class:`PackSamInputs`). Pipeline: ``LoadPatchImage -> [LoadPatchAnnotations]
    -> LoadCamPrompts -> PackSamInputs``.

    Required keys: ``img``, ``img_path``. Added keys: the prompt keys,
    ``prompt_frame`` and ``cam_score`` (the image-level score of the class).

    Args:
        generator: Prompt generator or its ``PROMPT_GENERATORS`` config
            (EP-SAM: ``ProbabilisticPointPrompt``, 50 points).
        cam_dir: Output folder of the CAM stage for this split.
        seed: Base seed of the per-image generators.
        cam_channel: CAM channel (index into ``cls_classes``) to prompt from.
        foreground_value: Initial-mask value of that class (1 for binary masks).
        missing_mask: ``'error'`` (default) raises when the image has no
            initial mask (only positive patches get one); ``'empty'`` treats
            it as an empty mask (mask-based generators then give no prompt).
    """

    def __init__(self,
                 generator: Union[dict, BasePromptGenerator] = dict(
                     type='ProbabilisticPointPrompt', num_points=50),
                 cam_dir: str = '',
                 seed: int = 0,
                 cam_channel: int = 0,
                 foreground_value: int = 1,
                 missing_mask: str = 'error') -> None:
        if not cam_dir:
            raise ValueError('LoadCamPrompts needs cam_dir (the CAM stage output folder)')
        if missing_mask not in ('error', 'empty'):
            raise ValueError(f"missing_mask must be 'error' or 'empty', got {missing_mask!r}")
        self.generator = build_if_config(PROMPT_GENERATORS, generator)
        item_rng(seed, '')  # validates the seed
        self.cam_dir = cam_dir
        self.seed = int(seed)
        self.cam_channel = int(cam_channel)
        self.foreground_value = int(foreground_value)
        self.missing_mask = missing_mask

    def transform(self, results: dict) -> dict:
        """Read the image's CAM and initial mask and draw prompts from them."""
        img_path = results['img_path']
        if results.get('flip') or results.get('rotate90_k'):
            raise ValueError(f'LoadCamPrompts on {img_path}: the image was flipped/rotated '
                             'before; CAM files are in the original frame, so put '
                             'LoadCamPrompts before any geometric transform (and none after)')
        stem, size = file_stem(img_path), results['img'].shape[:2]
        record = load_cam(osp.join(self.cam_dir, 'cams', f'{stem}.npz'), image_size=size)
        if not 0 <= self.cam_channel < record.num_classes:
            raise PatchFileError(record.path, f'has {record.num_classes} CAM channel(s); '
                                 f'cam_channel={self.cam_channel} does not exist')
        mask_path = osp.join(self.cam_dir, 'masks', f'{stem}.png')
        if osp.isfile(mask_path) or self.missing_mask == 'error':
            if not osp.isfile(mask_path):
                raise PatchFileError(mask_path, f'no initial mask for {img_path} (only positive '
                                     "patches get one; missing_mask='empty' allows this)")
            foreground = load_label_png(mask_path, image_size=size) == self.foreground_value
        else:
            foreground = np.zeros(size, dtype=bool)
        prompts = self.generator(record.cam[self.cam_channel], foreground,
                                 item_rng(self.seed, stem))
        results['cam_score'] = float(record.scores[self.cam_channel])
        return _store_prompts(results, prompts, f'LoadCamPrompts on {img_path}')

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(generator={self.generator!r}, cam_dir={self.cam_dir!r}, '
                f'seed={self.seed}, cam_channel={self.cam_channel}, '
                f'foreground_value={self.foreground_value}, missing_mask={self.missing_mask!r})')


@TRANSFORMS.register_module()
class PackSamInputs(PackPatchInputs):
    """:class:`PackPatchInputs` plus the prompts, as data fields of the sample.

    Adds ``prompt_points`` float32 ``(N, 2)``, ``prompt_labels`` int64
    ``(N,)`` and, when there is at least one box, ``prompt_boxes`` float32
    ``(M, 4)`` (the fields :class:`~epsam.models.sam.SamTuningModel` reads).

    Raises:
        KeyError: no prompt transform ran before.
        ValueError: the image was flipped, rotated or resized after the prompts
            were drawn (they would point at the wrong pixels).
    """

    def transform(self, results: dict) -> dict:
        """Pack ``results`` with its prompts."""
        img_path = results.get('img_path')
        if 'prompt_points' not in results:
            raise KeyError(f'PackSamInputs on {img_path}: no prompts in the results; put '
                           'GenerateMaskPrompts or LoadCamPrompts before it')
        if results.get(_FRAME_KEY) != _frame_of(results):
            raise ValueError(
                f'PackSamInputs on {img_path}: the image changed frame after the prompts '
                f'were drawn (then {results.get(_FRAME_KEY)}, now {_frame_of(results)}: '
                'shape, flip, flip direction, rot90); put the prompt transform after every '
                'geometric transform')
        packed = super().transform(results)
        fields = dict(
            prompt_points=torch.from_numpy(np.asarray(results['prompt_points'], np.float32)),
            prompt_labels=torch.from_numpy(np.asarray(results['prompt_labels'], np.int64)))
        boxes = np.asarray(results.get('prompt_boxes', np.zeros((0, 4))), np.float32)
        if len(boxes):
            fields['prompt_boxes'] = torch.from_numpy(boxes.reshape(-1, 4))
        packed['data_samples'].set_data(fields)
        return packed
