"""Tile predictors: RGB tiles in, per-pixel tumour probability maps out.

:class:`TilePredictor` is the whole contract the slide inference needs. The
CAM classifier predictor turns EP-SAM's patch classifier into a probability
map: the tile's plain CAM (min-max scaled to [0, 1]) times the classifier's
sigmoid score, so tiles the classifier calls negative stay near 0 instead of
showing their (always present) CAM peak. The prompted-SAM predictor lives in
:mod:`epsam.wsi.sam_predictor`.
"""
from typing import Optional, Protocol, Union, runtime_checkable

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from epsam.apis import init_model
from epsam.engine.checkpoint_loading import CheckpointError, load_model_weights

from .errors import WSIError

__all__ = ['TilePredictor', 'CAMTilePredictor', 'check_tiles', 'load_model_checkpoint',
           'build_model_from_config']


@runtime_checkable
class TilePredictor(Protocol):
    """Anything that maps a batch of tiles to probability maps.

    ``__call__(tiles)``: ``tiles`` is RGB uint8 ``(B, H, W, 3)``; returns float
    ``(B, H, W)`` probabilities in [0, 1].
    """

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        ...


def check_tiles(tiles: np.ndarray) -> np.ndarray:
    """Return ``tiles`` as a contiguous uint8 ``(B, H, W, 3)`` array, or raise."""
    tiles = np.asarray(tiles)
    if tiles.ndim != 4 or tiles.shape[-1] != 3 or tiles.dtype != np.uint8:
        raise ValueError(f'tiles must be RGB uint8 (B, H, W, 3), got {tiles.dtype} '
                         f'{tiles.shape}')
    return np.ascontiguousarray(tiles)


def build_model_from_config(config) -> nn.Module:
    """Build ``cfg.model`` in epsam's registry from a config path or ``Config``."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if 'model' not in cfg:
        raise WSIError(str(config), 'has no `model` entry')
    return init_model(cfg)


def load_model_checkpoint(model: nn.Module, path: str) -> nn.Module:
    """Load a checkpoint strictly with ``torch.load(weights_only=True)``.

    Accepts mmengine checkpoints (``state_dict`` key) and plain state dicts;
    a ``module.`` prefix (DDP) is dropped
    (:func:`epsam.engine.checkpoint_loading.load_model_weights`).

    Raises:
        WSIError: Unreadable file or weights that do not fit ``model``.
    """
    try:
        load_model_weights(model, path)
    except CheckpointError as error:
        raise WSIError(path, str(error).replace(f'{path}: ', '', 1)) from None
    return model


class CAMTilePredictor:
    """EP-SAM's CAM classifier as a tile predictor.

    Args:
        model: A built :class:`~epsam.models.CAMClassifier` (with weights).
        batch_size: Tiles per forward pass.
        device: Where the model runs.
        class_index: CAM channel (index into the classifier's classes).
        gate_by_score: Multiply the CAM by the tile's sigmoid score (see the
            module docstring); False returns the bare min-max scaled CAM.
    """

    def __init__(self, model: nn.Module, batch_size: int = 8,
                 device: Union[str, torch.device] = 'cpu', class_index: int = 0,
                 gate_by_score: bool = True) -> None:
        if not hasattr(model, 'compute_cam'):
            raise TypeError(f'CAMTilePredictor needs a CAMClassifier, got {type(model).__name__}')
        if not 0 <= class_index < model.num_classes:
            raise ValueError(f'class_index {class_index} is out of range for a classifier of '
                             f'{model.num_classes} class(es)')
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.batch_size = int(batch_size)
        self.class_index = int(class_index)
        self.gate_by_score = bool(gate_by_score)

    @classmethod
    def from_config(cls, config, checkpoint: Optional[str], **kwargs) -> 'CAMTilePredictor':
        """Build the classifier from a config (path or ``Config``) and load ``checkpoint``
        (None keeps random weights: tests and benchmarks only)."""
        model = build_model_from_config(config)
        if checkpoint is not None:
            load_model_checkpoint(model, checkpoint)
        return cls(model, **kwargs)

    @torch.no_grad()
    def scores_and_cams(self, tiles: np.ndarray) -> tuple:
        """Sigmoid scores ``(B,)`` and CAMs ``(B, H, W)`` in [0, 1] of the chosen class."""
        tiles = check_tiles(tiles)
        preprocessor = self.model.data_preprocessor
        # The preprocessor follows mmcv (BGR in) when it flips channels.
        images = tiles[..., ::-1] if getattr(preprocessor, 'bgr_to_rgb', False) else tiles
        scores, cams = [], []
        for start in range(0, len(images), self.batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(
                images[start:start + self.batch_size])).permute(0, 3, 1, 2)
            inputs = preprocessor(dict(inputs=list(chunk)), False)['inputs']
            logits, cam = self.model.compute_cam(inputs)
            scores.append(logits[:, self.class_index].sigmoid().cpu())
            cams.append(cam[:, self.class_index].cpu())
        return torch.cat(scores).numpy(), torch.cat(cams).numpy()

    def __call__(self, tiles: np.ndarray) -> np.ndarray:
        scores, cams = self.scores_and_cams(tiles)
        if self.gate_by_score:
            cams = cams * scores[:, None, None]
        return cams.astype(np.float32)
