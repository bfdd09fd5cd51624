"""Classification head whose linear layer doubles as the CAM projection."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor, nn

from epsam.registry import MODELS


@MODELS.register_module()
class CAMHead(BaseModule):
    """Global average pooling + linear layer, trained with BCE-with-logits.

    One logit per class (binary Camelyon: one class; multi-label BCSS: four),
    each an independent sigmoid. The linear weights give the plain CAM
    (:meth:`cam`).

    Args:
        in_channels: channels of the feature map the head pools.
        num_classes: number of image-level classes (``len(cls_classes)``).
        loss_weight: factor on the BCE loss.
        pos_weight: optional per-class weight of positive examples (length
            ``num_classes``), as in ``F.binary_cross_entropy_with_logits``.
        dropout: dropout probability before the linear layer (0: none).
        init_cfg: mmengine init config; default normal(std=0.01) on the fc.
    """

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 *,
                 loss_weight: float = 1.0,
                 pos_weight: Optional[Sequence[float]] = None,
                 dropout: float = 0.0,
                 init_cfg: Optional[dict] = dict(type='Normal', layer='Linear', std=0.01)
                 ) -> None:
        super().__init__(init_cfg)
        if in_channels < 1 or num_classes < 1:
            raise ValueError(f'CAMHead: in_channels and num_classes must be >= 1, '
                             f'got {in_channels} and {num_classes}')
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.loss_weight = loss_weight
        if pos_weight is not None:
            if len(pos_weight) != num_classes:
                raise ValueError(f'CAMHead: pos_weight has {len(pos_weight)} entries, '
                                 f'expected num_classes={num_classes}')
            self.register_buffer('pos_weight', torch.tensor(pos_weight, dtype=torch.float32))
        else:
            self.pos_weight = None
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(in_channels, num_classes)

    def _check_features(self, feats: Tensor, what: str) -> None:
        if feats.dim() != 4 or feats.shape[1] != self.in_channels:
            raise ValueError(
                f'CAMHead: {what} must be (B, {self.in_channels}, h, w) to match the fc layer '
                f'(in_channels={self.in_channels}), got {tuple(feats.shape)}. For a CAM, choose '
                'a layer with as many channels as the final features (e.g. a block of the '
                'last stage).')

    def forward(self, feats: Tensor) -> Tensor:
        """Class logits.

        Args:
            feats: (B, in_channels, h, w) final feature map.

        Returns:
            Tensor: (B, num_classes) logits.
        """
        self._check_features(feats, 'the final feature map')
        pooled = feats.mean(dim=(2, 3))
        return self.fc(self.dropout(pooled))

    def cam(self, feats: Tensor) -> Tensor:
        """Raw class activation maps: fc weights applied at every position.

        Args:
            feats: (B, in_channels, h, w) features of the CAM layer.

        Returns:
            Tensor: (B, num_classes, h, w) un-normalised maps (no bias, no
            ReLU).
        """
        self._check_features(feats, 'the CAM layer features')
        return torch.einsum('kc,bchw->bkhw', self.fc.weight, feats)

    def loss_by_logits(self, logits: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """BCE-with-logits loss.

        Args:
            logits: (B, num_classes) logits.
            labels: (B, num_classes) multi-hot targets in {0, 1}.

        Returns:
            dict: ``loss_cls``.
        """
        if labels.shape != logits.shape:
            raise ValueError(f'CAMHead: labels of shape {tuple(labels.shape)} do not match '
                             f'logits {tuple(logits.shape)} (num_classes={self.num_classes})')
        loss = F.binary_cross_entropy_with_logits(
            logits, labels.to(logits.dtype), pos_weight=self.pos_weight)
        return dict(loss_cls=self.loss_weight * loss)

    def loss(self, feats: Tensor, labels: Tensor) -> Dict[str, Tensor]:
        """Pool, classify and return ``dict(loss_cls=...)``."""
        return self.loss_by_logits(self(feats), labels)

    @staticmethod
    def stack_labels(data_samples: List, num_classes: int) -> Tensor:
        """Stack each sample's ``gt_label`` into a (B, num_classes) tensor."""
        labels = []
        for index, sample in enumerate(data_samples):
            if 'gt_label' not in sample:
                raise KeyError(f'CAMHead: data sample {index} has no gt_label (multi-hot image '
                               'label); PackPatchInputs should set it')
            label = torch.as_tensor(sample.gt_label).flatten().float()
            if label.numel() != num_classes:
                raise ValueError(f'CAMHead: data sample {index} gt_label has {label.numel()} '
                                 f'entries, the head has num_classes={num_classes}')
            labels.append(label)
        return torch.stack(labels)
