"""What every pipeline stage needs: the config, folders, data splits, SAM settings."""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Optional

from mmengine.config import Config

from .ledger import StageLedger

STAND_IN_NOTE = ('SAM weights: randomly initialised stand-in ({variant} variant), NOT a '
                 'trained SAM; pass --sam-checkpoint to run the real model')


@dataclass
class PipelineContext:
    """The pipeline config plus derived paths.

    Args:
        cfg: The pipeline config (see ``configs/epsam/epsam_*.py``).
        work_dir: Root of every stage's folder.
        device: Where models run (``'cpu'`` or ``'cuda'``).
    """

    cfg: Config
    work_dir: str
    device: str = 'cpu'

    def __post_init__(self) -> None:
        self.ledger = StageLedger(self.work_dir)

    # --- data ----------------------------------------------------------------
    @property
    def data_root(self) -> str:
        return self.cfg.data_root

    def split_prefix(self, split: str) -> Dict[str, str]:
        """``data_prefix`` of a split (``img_path``, ``seg_map_path``)."""
        try:
            return dict(self.cfg.split_prefixes[split])
        except KeyError:
            raise KeyError(f'the pipeline config has no split_prefixes[{split!r}]') from None

    def image_dir(self, split: str) -> str:
        return osp.join(self.data_root, self.split_prefix(split)['img_path'])

    def gt_mask_dir(self, split: str) -> str:
        return osp.join(self.data_root, self.split_prefix(split)['seg_map_path'])

    # --- SAM -----------------------------------------------------------------
    @property
    def sam_cfg(self) -> dict:
        return dict(self.cfg.sam)

    @property
    def stand_in_sam(self) -> bool:
        """True when SAM's weights are random (no checkpoint given)."""
        return not self.sam_cfg.get('checkpoint')

    @property
    def sam_note(self) -> str:
        if self.stand_in_sam:
            return STAND_IN_NOTE.format(variant=self.sam_cfg.get('variant', '?'))
        return f'SAM weights: {self.sam_cfg["checkpoint"]} ({self.sam_cfg.get("variant")})'

    @property
    def embedding_cache_dir(self) -> Optional[str]:
        if not self.cfg.get('embedding_cache', dict(enabled=True)).get('enabled', True):
            return None
        return osp.join(self.work_dir, 'embedding_cache')

    @property
    def uses_pixel_labels_for_selection(self) -> bool:
        return bool(self.cfg.get('model_selection', {}).get('use_pixel_labels', False))

    # --- stage folders -------------------------------------------------------
    def stage_dir(self, stage: str) -> str:
        return self.ledger.stage_dir(stage)
