"""EP-SAM's inference as a tile predictor: CAM prompts (points and/or boxes) into SAM.

Per tile: the classifier's score and CAM; tiles scored below
``score_threshold`` get an all-zero map; the others get the CAM thresholded
into an initial mask (``mask_maker``), ``num_points`` prompts drawn inside it
weighted by the CAM (``ProbabilisticPointPrompt``), and SAM's sigmoid mask
probability for those prompts. The prompt generator is seeded from the
tile's pixels, so a tile gets the same prompts on any rank and in any batch.
The prompted tiles of a batch go through SAM's one inference road
(:class:`~epsam.models.sam.SamMaskPredictor`): one encoder call, then their
prompts decoded together.
"""
import zlib
from typing import Optional, Union

import numpy as np
import torch

from epsam.models.sam import SamMaskPredictor, build_sam
from epsam.registry import MASK_MAKERS, PROMPT_GENERATORS, build_if_config

from .predictors import CAMTilePredictor, check_tiles

__all__ = ['SamTilePredictor']


class SamTilePredictor:
    """Prompted SAM over tiles.

    Args:
        cam_predictor: Gives scores and CAMs (:class:`CAMTilePredictor`).
        sam: A built ``segment_anything`` SAM (weights loaded).
        mask_maker: ``MASK_MAKERS`` config or instance turning a CAM into the
            initial mask (default: EP-SAM's 10th percentile of the non-zero CAM).
        prompt_generator: ``PROMPT_GENERATORS`` config or instance (default:
            50 CAM-weighted points).
        score_threshold: Tiles whose classifier score is lower are negative.
        seed: Base seed of the prompt generators.
        device: Where SAM runs.
        embedder: Source of SAM's image embeddings (see
            :class:`~epsam.models.sam.SamMaskPredictor`); ``None``: its encoder.
    """

    def __init__(self, cam_predictor: CAMTilePredictor, sam: torch.nn.Module,
                 mask_maker: Optional[Union[dict, object]] = None,
                 prompt_generator: Optional[Union[dict, object]] = None,
                 score_threshold: float = 0.5, seed: int = 0,
                 device: Union[str, torch.device] = 'cpu',
                 embedder: Optional[object] = None) -> None:
        mask_maker = mask_maker or dict(type='PercentileMaskMaker', percentile=10.0)
        prompt_generator = prompt_generator or dict(type='ProbabilisticPointPrompt',
                                                    num_points=50)
        self.cam_predictor = cam_predictor
        self.mask_maker = build_if_config(MASK_MAKERS, mask_maker)
        self.prompt_generator = build_if_config(PROMPT_GENERATORS, prompt_generator)
        self.predictor = SamMaskPredictor(sam, embedder=embedder, device=device)
        self.score_threshold = float(score_threshold)
        self.seed = int(seed)

    @classmethod
    def from_files(cls, config, checkpoint: Optional[str], sam_variant: str,
                   sam_checkpoint: Optional[str], batch_size: int = 8,
                   device: str = 'cpu', **kwargs) -> 'SamTilePredictor':
        """Build the classifier (config + checkpoint) and SAM (variant + checkpoint)."""
        cam = CAMTilePredictor.from_config(config, checkpoint, batch_size=batch_size,
                                           device=device, gate_by_score=False)
        return cls(cam, build_sam(sam_variant, checkpoint=sam_checkpoint), device=device,
                   **kwargs)

    def tile_rng(self, tile: np.ndarray) -> np.random.Generator:
        """The prompt generator of one tile, from its pixels and the base seed."""
        return np.random.default_rng([self.seed, zlib.crc32(tile.tobytes())])

    @torch.no_grad()
    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        tiles = check_tiles(tiles)
        scores, cams = self.cam_predictor.scores_and_cams(tiles)
        out = np.zeros(tiles.shape[:3], np.float32)
        todo, prompts = [], []
        for index, (tile, score, cam) in enumerate(zip(tiles, scores, cams)):
            if score < self.score_threshold:
                continue
            mask = self.mask_maker(cam[None])[0].astype(bool)
            one = self.prompt_generator(cam, mask, self.tile_rng(tile))
            if not one.is_empty:
                todo.append(index)
                prompts.append(one)
        if todo:
            embeddings = self.predictor.embed([tiles[index] for index in todo])
            decoded = self.predictor.decode(list(embeddings), prompts)
            for index, (logits, _) in zip(todo, decoded):
                out[index] = logits.sigmoid().cpu().numpy()
        return out
