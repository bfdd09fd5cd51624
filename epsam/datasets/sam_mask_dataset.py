"""Images and binary masks for fine-tuning SAM's decoder (EP-SAM steps 4 and 6)."""
from typing import Optional

from epsam.registry import DATASETS

from .pseudo_label_dataset import PseudoLabelDataset

#: Default classes of a SAM target: SAM predicts one foreground per prompt set.
#: (Overlays write class names in white on the class colour: no white class.)
SAM_MASK_METAINFO = dict(classes=('background', 'foreground'),
                         palette=[[0, 0, 0], [255, 0, 0]])


@DATASETS.register_module()
class SamMaskDataset(PseudoLabelDataset):
    """Patches paired with binary target masks: initial CAM masks or pseudo-labels.

    Lists every mask ``{mask_dir}/{stem}{seg_map_suffix}`` that has an image
    ``{img_dir}/{stem}{img_suffix}``; images without a mask (negative or
    rejected patches) are left out, a mask without an image is an error. The
    masks hold 0 (background), 1 (foreground) and 255 (ignored), as the CAM
    stage and :class:`~epsam.pseudo_labels.PseudoLabelGenerator` write them;
    ``LoadPatchAnnotations`` rejects any other value. ``img_dir`` can be the
    image folder of any patch dataset.

    Training pipeline (prompts are drawn after the geometric augmentation,
    from the augmented mask, so they are in the image's final frame)::

        train_pipeline = [
            dict(type='LoadPatchImage'),
            dict(type='LoadPatchAnnotations', binary=False),
            dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
            dict(type='RandomRotate90', prob=0.75),
            dict(type='GenerateMaskPrompts',
                 generator=dict(type='UniformPointPrompt', num_points=50)),
            dict(type='PackSamInputs'),
        ]
        dataset = dict(type='SamMaskDataset', img_dir='data/camelyon16/train/image',
                       mask_dir='work_dirs/cams/train/masks', pipeline=train_pipeline)

    Args:
        img_dir: Folder of the images (joined to ``data_root`` when relative).
        mask_dir: Folder of the masks (initial masks or pseudo-labels).
        source_dataset: Registered dataset whose ``METAINFO`` to copy, e.g.
            ``'CamelyonPatchDataset'`` (classes ``('normal', 'tumor')``);
            by default ``classes=('background', 'foreground')``.
        metainfo: Keys that win over the defaults; must keep two classes.
        **kwargs: Passed to :class:`PseudoLabelDataset` (``data_root``,
            ``pipeline``, ``img_suffix``, ``seg_map_suffix``, ``label_parser``,
            ...). ``data_prefix`` may be given instead of the two folders.
    """

    def __init__(self,
                 img_dir: Optional[str] = None,
                 mask_dir: Optional[str] = None,
                 source_dataset: Optional[str] = None,
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if (img_dir is None) != (mask_dir is None):
            raise ValueError('SamMaskDataset needs both img_dir and mask_dir (or data_prefix '
                             f'with img_path and seg_map_path), got img_dir={img_dir!r}, '
                             f'mask_dir={mask_dir!r}')
        if img_dir is not None:
            if 'data_prefix' in kwargs:
                raise ValueError('SamMaskDataset: give img_dir/mask_dir or data_prefix, not both')
            kwargs['data_prefix'] = dict(img_path=img_dir, seg_map_path=mask_dir)
        elif not {'img_path', 'seg_map_path'} <= set(kwargs.get('data_prefix') or {}):
            raise ValueError('SamMaskDataset needs img_dir and mask_dir')
        merged = {} if source_dataset is not None else dict(SAM_MASK_METAINFO)
        merged.update(metainfo or {})
        super().__init__(source_dataset=source_dataset, metainfo=merged, **kwargs)
        if len(self._metainfo['classes']) != 2:
            raise ValueError(f"SamMaskDataset: masks are binary, but metainfo names "
                             f"{len(self._metainfo['classes'])} classes "
                             f"{tuple(self._metainfo['classes'])}")
