"""EP-SAM's patch classifier: backbone + CAM head, trained on image-level labels."""
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple, Union

from mmengine.model import BaseModel
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch import Tensor, nn

from epsam.registry import MODELS

from .cam_postprocess import postprocess_cam


@contextmanager
def capture_output(module: nn.Module) -> Iterator[Dict[str, Tensor]]:
    """Record ``module``'s forward output in the yielded dict under ``'output'``."""
    captured: Dict[str, Tensor] = {}

    def hook(_module, _args, output):
        captured['output'] = output

    handle = module.register_forward_hook(hook)
    try:
        yield captured
    finally:
        handle.remove()


@MODELS.register_module()
class CAMClassifier(BaseModel):
    """Patch classifier with class activation maps.

    ``forward(inputs, data_samples, mode)`` follows mmseg: ``'loss'`` returns
    ``dict(loss_cls=...)``, ``'predict'`` returns data samples with
    ``pred_score`` (sigmoid scores, (K,)), ``pred_label`` (scores >= 0.5, (K,)
    float) and, when ``with_cam_in_predict``, ``cam`` (a ``PixelData`` whose
    ``data`` is (K, H, W) in [0, 1] at the input size; plain CAM from
    ``cam_layer``), and ``'tensor'`` returns the (B, K) logits.

    Args:
        backbone: backbone config (e.g. ``ResNetADL``); its last returned
            stage output is the feature map the head pools.
        head: head config (``CAMHead``).
        data_preprocessor: preprocessor config (``CAMDataPreprocessor``).
        cam_layer: name of the backbone module whose output gives the CAM
            (``'layer4.0'``: EP-SAM's layer4 block 0), or None for the final
            feature map.
        with_cam_in_predict: compute CAMs in ``predict`` (turn off to speed
            up validation).
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 cam_layer: Optional[str] = 'layer4.0',
                 with_cam_in_predict: bool = True,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        if data_preprocessor is None:
            data_preprocessor = MODELS.build(dict(type='CAMDataPreprocessor'))
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.head = MODELS.build(head)
        self.num_classes = self.head.num_classes
        self.cam_layer = cam_layer
        if cam_layer is not None:
            self.get_layer(cam_layer)
        self.with_cam_in_predict = with_cam_in_predict

    # --- features ----------------------------------------------------------
    def get_layer(self, name: str) -> nn.Module:
        """The backbone sub-module called ``name`` (e.g. ``'layer4.0'``)."""
        try:
            return self.backbone.get_submodule(name)
        except AttributeError:
            blocks = [n for n, _ in self.backbone.named_modules() if n.count('.') == 1
                      and n.startswith('layer')]
            raise ValueError(f'CAMClassifier: the backbone has no layer {name!r}; blocks are '
                             f'named like {blocks[:3]} ... {blocks[-1:]}') from None

    def _final_features(self, outputs: Union[Tensor, Tuple[Tensor, ...]]) -> Tensor:
        if isinstance(outputs, Tensor):
            return outputs
        # ResNetADL appends its ``out_blocks`` outputs after the stage outputs.
        num_block_outputs = len(getattr(self.backbone, 'out_blocks', ()))
        return outputs[len(outputs) - num_block_outputs - 1]

    def extract_feat(self, inputs: Tensor) -> Tensor:
        """Final feature map (B, C, h, w) of the preprocessed inputs (B, C_in, H, W)."""
        return self._final_features(self.backbone(inputs))

    def extract_feat_and_layer(self, inputs: Tensor,
                               layer: Optional[str] = None) -> Tuple[Tensor, Tensor]:
        """Final features and the output of backbone layer ``layer``.

        Args:
            inputs: (B, C_in, H, W) preprocessed inputs.
            layer: backbone module name; None -> ``self.cam_layer`` (or the
                final features when that is None too).

        Returns:
            tuple: final features (B, C, h, w) and the layer's output.
        """
        layer = layer if layer is not None else self.cam_layer
        if layer is None:
            feats = self.extract_feat(inputs)
            return feats, feats
        with capture_output(self.get_layer(layer)) as captured:
            feats = self.extract_feat(inputs)
        return feats, captured['output']

    def compute_cam(self, inputs: Tensor, layer: Optional[str] = None
                    ) -> Tuple[Tensor, Tensor]:
        """Logits and plain CAMs of preprocessed inputs.

        Returns:
            tuple: logits (B, K) and CAMs (B, K, H, W) in [0, 1] at the
            input size.
        """
        feats, layer_feats = self.extract_feat_and_layer(inputs, layer)
        logits = self.head(feats)
        cams = postprocess_cam(self.head.cam(layer_feats), inputs.shape[-2:])
        return logits, cams

    # --- mmengine / mmseg interface ------------------------------------------
    def forward(self, inputs: Tensor, data_samples: Optional[List[SegDataSample]] = None,
                mode: str = 'tensor'):
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        raise ValueError(f'CAMClassifier: invalid mode {mode!r}; use "loss", "predict" or "tensor"')

    def loss(self, inputs: Tensor, data_samples: List[SegDataSample]) -> Dict[str, Tensor]:
        """BCE loss of a batch; data samples must carry ``gt_label``."""
        if not data_samples:
            raise ValueError('CAMClassifier: mode="loss" needs data samples with gt_label')
        labels = self.head.stack_labels(data_samples, self.num_classes).to(inputs.device)
        return self.head.loss(self.extract_feat(inputs), labels)

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[SegDataSample]] = None) -> List[SegDataSample]:
        """Scores (and CAMs) for a batch, written into the data samples."""
        if self.with_cam_in_predict:
            logits, cams = self.compute_cam(inputs)
        else:
            logits, cams = self.head(self.extract_feat(inputs)), None
        scores = logits.sigmoid()
        if data_samples is None:
            data_samples = [SegDataSample(metainfo=dict(img_shape=tuple(inputs.shape[-2:])))
                            for _ in range(inputs.shape[0])]
        for index, sample in enumerate(data_samples):
            sample.set_data(dict(pred_score=scores[index].detach(),
                                 pred_label=(scores[index] >= 0.5).float().detach()))
            if cams is not None:
                sample.set_data(dict(cam=PixelData(data=cams[index].detach())))
        return data_samples
