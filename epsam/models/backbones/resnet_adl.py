"""ResNet with Attention-based Dropout Layers (EP-SAM's patch classifier backbone)."""
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.logging import print_log
from mmseg.models.backbones import ResNet
from torch import Tensor, nn

from epsam.registry import MODELS

from ..layers import ADL

#: EP-SAM's ADL positions, as (stage, block) pairs with stages counted from 1.
EPSAM_ADL_POSITIONS = ((3, 0), (4, 0), (4, 2))


@MODELS.register_module()
class ResNetADL(ResNet):
    """mmseg's ``ResNet`` with ADL layers after chosen residual blocks.

    The residual stages are mmseg's, untouched (so torchvision / mmseg ImageNet
    checkpoints load by name); the ADL layers are parameter-free and kept in
    ``self.adl_layers``, applied in :meth:`forward` after their block. Set
    ``deep_stem=True`` for the ``ResNetV1c`` stem.

    Args:
        depth: 18, 34, 50 or 101.
        in_channels: 3 (RGB) or 4 (RGB + high-frequency channel).
        strides: stride of the first block of each stage. EP-SAM uses
            ``(1, 2, 2, 1)``: layer4 at stride 1, so 512 px -> 32x32.
        dilations: dilation of each stage (mmseg's ``dilations``).
        adl_positions: (stage, block) pairs, stage counted from 1 and block
            from 0, after which an ADL layer is applied. EP-SAM:
            ``((3, 0), (4, 0), (4, 2))``.
        adl_cfg: keyword arguments of :class:`~epsam.models.layers.ADL`.
        out_blocks: names of blocks (``'layer4.0'`` = stage 4, block 0) whose
            output (after its ADL, if any) is returned after the stage
            outputs selected by ``out_indices``.
        pretrained_checkpoint: local path of an ImageNet ResNet checkpoint
            (torchvision or mmseg key names), loaded by :meth:`init_weights`
            with ``torch.load(weights_only=True)``. An ``init_cfg`` of
            ``dict(type='Pretrained', checkpoint=path)`` means the same. With
            ``in_channels=4`` and a 3-channel checkpoint, the 4th input
            filter of the first conv is the mean of the RGB filters.
        **kwargs: any other argument of mmseg's ``ResNet`` (``out_indices``,
            ``base_channels``, ``stem_channels``, ``norm_cfg``, ...).
    """

    supported_depths = (18, 34, 50, 101)

    def __init__(self,
                 depth: int = 50,
                 *,
                 in_channels: int = 3,
                 strides: Sequence[int] = (1, 2, 2, 1),
                 dilations: Sequence[int] = (1, 1, 1, 1),
                 adl_positions: Sequence[Sequence[int]] = EPSAM_ADL_POSITIONS,
                 adl_cfg: Optional[dict] = None,
                 out_blocks: Sequence[str] = (),
                 out_indices: Sequence[int] = (3, ),
                 pretrained_checkpoint: Optional[str] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None,
                 **kwargs) -> None:
        if depth not in self.supported_depths:
            raise ValueError(f'ResNetADL: depth must be one of {self.supported_depths}, '
                             f'got {depth}')
        if in_channels not in (3, 4):
            raise ValueError(f'ResNetADL: in_channels must be 3 or 4, got {in_channels}')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            if pretrained_checkpoint is not None:
                raise ValueError('ResNetADL: give the checkpoint either as pretrained_checkpoint '
                                 'or as init_cfg=dict(type="Pretrained"), not both')
            pretrained_checkpoint = init_cfg['checkpoint']
            self._checkpoint_prefix = init_cfg.get('prefix')
            init_cfg = None
        else:
            self._checkpoint_prefix = None
        super().__init__(
            depth=depth, in_channels=in_channels, strides=tuple(strides),
            dilations=tuple(dilations), out_indices=tuple(out_indices), init_cfg=init_cfg,
            **kwargs)
        self.in_channels = in_channels
        self.pretrained_checkpoint = pretrained_checkpoint
        self.adl_positions = self._check_positions(adl_positions)
        self.adl_layers = nn.ModuleDict({
            self._adl_key(stage, block): ADL(**(adl_cfg or {}))
            for stage, block in self.adl_positions
        })
        self.out_blocks = tuple(out_blocks)
        for name in self.out_blocks:
            self._parse_block_name(name)

    # --- names and positions ------------------------------------------
    @staticmethod
    def _adl_key(stage: int, block: int) -> str:
        return f'layer{stage}_{block}'

    def _check_positions(self, positions: Sequence[Sequence[int]]) -> Tuple[Tuple[int, int], ...]:
        checked = []
        for position in positions:
            if len(position) != 2:
                raise ValueError(f'ResNetADL: adl_positions entries must be (stage, block) pairs, '
                                 f'got {position!r}')
            stage, block = int(position[0]), int(position[1])
            if not 1 <= stage <= self.num_stages:
                raise ValueError(f'ResNetADL: ADL stage {stage} out of range 1..{self.num_stages}')
            if not 0 <= block < self.stage_blocks[stage - 1]:
                raise ValueError(f'ResNetADL: ADL block {block} out of range for layer{stage}, '
                                 f'which has {self.stage_blocks[stage - 1]} blocks')
            checked.append((stage, block))
        return tuple(checked)

    def _parse_block_name(self, name: str) -> Tuple[int, int]:
        """``'layer4.0'`` -> (4, 0), with a clear error for a bad name."""
        try:
            layer, block = name.split('.')
            stage = int(layer.replace('layer', ''))
            block_idx = int(block)
        except ValueError:
            raise ValueError(f'ResNetADL: block name must look like "layer4.0", got {name!r}')
        if not (1 <= stage <= self.num_stages and 0 <= block_idx < self.stage_blocks[stage - 1]):
            raise ValueError(f'ResNetADL: no block {name!r}; stages have '
                             f'{tuple(self.stage_blocks)} blocks')
        return stage, block_idx

    # --- forward -------------------------------------------------------
    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Run the network.

        Args:
            x: (B, in_channels, H, W) input.

        Returns:
            tuple[Tensor]: the outputs of the stages in ``out_indices``, then
            the outputs of the blocks in ``out_blocks``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f'ResNetADL: expected input of shape (B, {self.in_channels}, H, W), '
                             f'got {tuple(x.shape)}')
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        stage_outs: List[Tensor] = []
        block_outs: Dict[str, Tensor] = {}
        for stage_idx, layer_name in enumerate(self.res_layers):
            stage = stage_idx + 1
            for block_idx, block in enumerate(getattr(self, layer_name)):
                x = block(x)
                key = self._adl_key(stage, block_idx)
                if key in self.adl_layers:
                    x = self.adl_layers[key](x)
                block_outs[f'{layer_name}.{block_idx}'] = x
            if stage_idx in self.out_indices:
                stage_outs.append(x)
        return tuple(stage_outs) + tuple(block_outs[name] for name in self.out_blocks)

    def train(self, mode: bool = True) -> 'ResNetADL':
        """mmseg's ``train`` (frozen stages, ``norm_eval``), returning ``self``."""
        super().train(mode)
        return self

    # --- ImageNet initialisation ----------------------------------------
    def init_weights(self) -> None:
        """Default (Kaiming) init, then the local checkpoint if one is set."""
        super().init_weights()
        if self.pretrained_checkpoint is not None:
            self.load_pretrained(self.pretrained_checkpoint, prefix=self._checkpoint_prefix)

    def load_pretrained(self, path: str, prefix: Optional[str] = None) -> None:
        """Load ResNet weights from a local checkpoint file.

        Args:
            path: checkpoint path; a plain state dict or one under a
                ``state_dict`` / ``model`` key.
            prefix: keep only keys starting with it (e.g. ``'backbone.'``)
                and strip it.
        """
        if not osp.isfile(path):
            raise FileNotFoundError(f'ResNetADL: pretrained checkpoint not found: {path!r}')
        try:
            checkpoint = torch.load(path, map_location='cpu', weights_only=True)
        except (pickle.UnpicklingError, RuntimeError) as error:
            raise ValueError(f'ResNetADL: {path!r} is not a weights-only checkpoint '
                             f'(torch.load(weights_only=True) failed: {error})') from None
        state = _unwrap_state_dict(checkpoint, path)
        if prefix:
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        state = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in state.items()}
        state = {k: v for k, v in state.items() if not k.startswith('fc.')}
        self._adapt_first_conv(state, path)
        result = self.load_state_dict(state, strict=False)
        loaded = len(state) - len(result.unexpected_keys)
        if loaded == 0:
            raise ValueError(f'ResNetADL: no key of {path!r} matches the backbone '
                             f'(first keys: {list(state)[:3]}); wrong checkpoint or prefix?')
        print_log(f'ResNetADL: loaded {loaded} tensors from {path}; missing '
                  f'{len(result.missing_keys)}, unexpected {len(result.unexpected_keys)}',
                  logger='current')

    def _adapt_first_conv(self, state: Dict[str, Tensor], path: str) -> None:
        key = 'stem.0.weight' if self.deep_stem else 'conv1.weight'
        if key not in state:
            return
        weight = state[key]
        if weight.dim() != 4:
            raise ValueError(f'ResNetADL: {path!r}: {key} has shape {tuple(weight.shape)}, '
                             'expected a conv weight (out, in, kh, kw)')
        if weight.shape[1] == 3 and self.in_channels == 4:
            state[key] = torch.cat([weight, weight.mean(dim=1, keepdim=True)], dim=1)
        elif weight.shape[1] != self.in_channels:
            raise ValueError(f'ResNetADL: {path!r}: {key} takes {weight.shape[1]} input channels, '
                             f'the backbone {self.in_channels}')


def _unwrap_state_dict(checkpoint: object, path: str) -> Dict[str, Tensor]:
    if isinstance(checkpoint, dict):
        for key in ('state_dict', 'model'):
            if isinstance(checkpoint.get(key), dict):
                checkpoint = checkpoint[key]
                break
    if not isinstance(checkpoint, dict) or not all(
            isinstance(v, torch.Tensor) for v in checkpoint.values()):
        raise ValueError(f'ResNetADL: {path!r} does not hold a state dict of tensors')
    return dict(checkpoint)
