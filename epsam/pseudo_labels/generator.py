"""EP-SAM's pseudo-label generator (steps 5-6): prompt SAM from CAMs, select, write.

Resumable: each item's outcome is a small JSON record written after its
mask, so a rerun skips finished items (no image is read or encoded again).

Reproducible: prompts come from a generator seeded by ``(seed, stem)``, and
items are encoded in fixed batches, ``items[i:i + batch_size]`` for
``i = 0, batch_size, ...``, whichever rank handles them: encoder outputs
differ in their last bits between batch compositions (BLAS kernels depend on
the batch shape), which could flip a pixel whose logit is within ~1e-5 of 0.
With fixed batches, a run sharded over ranks writes the same bytes as a single
run (same ``batch_size``, no embedding cache). Ranks share the batches
round-robin: rank ``r`` of ``w`` takes batches ``r, r + w, ...``; a batch
with any unfinished item is encoded whole, so resumed runs keep the
compositions too.
"""
import os.path as osp
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from segment_anything.modeling import Sam

from epsam.fileio.cam_store import save_label_png
from epsam.fileio.fingerprints import weights_fingerprint
from epsam.fileio.items import PseudoLabelItem, check_unique_stems
from epsam.models.sam import build_sam
from epsam.prompts import BasePromptGenerator
from epsam.registry import PSEUDO_LABEL_SELECTORS, build_if_config
from epsam.utils.progress import progress_bar

from .base import BaseSelector
from .sam_inference import BatchedSamPredictor, SamPrediction
from .writer import EMPTY_PROMPTS, ERROR, KEPT, REJECTED, PseudoLabelFolder

__all__ = ['PseudoLabelGenerator', 'PseudoLabelReport']

ItemLike = Union[PseudoLabelItem, Sequence[str]]


@dataclass
class PseudoLabelReport:
    """What one :meth:`PseudoLabelGenerator.run` call did (its shard only).

    Args:
        out_dir: The output folder.
        rank: This call's rank.
        world_size: Number of ranks.
        items: Items in this rank's batches.
        skipped: Items already finished by an earlier run.
        kept: Items whose SAM mask was kept (mask written).
        rejected: Items whose SAM mask was rejected (no mask written).
        empty_prompts: Items without prompts (empty CAM mask); SAM not run.
        errors: ``(stem, message)`` of items whose files could not be read.
        images_encoded: Images run through SAM's encoder by this call.
        encoder_calls: Encoder forward passes (batches) by this call.
        seconds: Seconds spent per stage (``read``, ``prompts``, ``encode``,
            ``decode``, ``write``).
        summary: The folder's summary, when every item of the run had a
            record after this call (else ``None``: another rank is still busy).
    """

    out_dir: str
    rank: int = 0
    world_size: int = 1
    items: int = 0
    skipped: int = 0
    kept: int = 0
    rejected: int = 0
    empty_prompts: int = 0
    errors: List[Tuple[str, str]] = field(default_factory=list)
    images_encoded: int = 0
    encoder_calls: int = 0
    seconds: Dict[str, float] = field(default_factory=dict)
    summary: Optional[Dict] = None

    @property
    def processed(self) -> int:
        """Items handled by this call (not skipped)."""
        return self.kept + self.rejected + self.empty_prompts + len(self.errors)

    def __str__(self) -> str:
        return (f'pseudo-labels rank {self.rank}/{self.world_size} in {self.out_dir}: '
                f'{self.items} item(s), {self.skipped} already done, {self.kept} kept, '
                f'{self.rejected} rejected, {self.empty_prompts} without prompts, '
                f'{len(self.errors)} error(s); {self.images_encoded} image(s) encoded')


class PseudoLabelGenerator:
    """Prompt SAM from each positive patch's CAM, select, and write pseudo-labels.

    Args:
        sam: A built SAM, or the arguments of :func:`~epsam.models.sam.build_sam`
            (``variant``, ``checkpoint``).
        prompt_generator: Prompt generator or its ``PROMPT_GENERATORS``
            config (EP-SAM: ``ProbabilisticPointPrompt`` with 50 points).
        selector: Selector or its ``PSEUDO_LABEL_SELECTORS`` config (EP-SAM:
            ``IDSSelector`` with threshold 0.9).
        batch_size: Images per encoder forward pass.
        device: Where SAM runs.
        cache: Optional source of image embeddings with the ``get_or_compute``
            API: a SAM embedding cache, or an
            :class:`~epsam.models.sam.AdaptedSamEmbedder` for an
            adapter-tuned SAM. Without it images are encoded directly with
            ``sam.image_encoder`` under ``torch.no_grad``.
        seed: Base seed; item ``stem`` draws its prompts from ``(seed, stem)``.
        multimask_output: Use SAM's best-of-three mask (EP-SAM: False).
        cam_channel: CAM channel to prompt from (index into ``cls_classes``).
        foreground_value: Initial-mask value of that class (1 for binary masks).
        progress: Show mmengine's progress bar.
        decode_batch: Most images per mask-decoder call (see
            :class:`~epsam.models.sam.SamMaskPredictor`; 1, the default, is
            bit-exact with per-image decoding).
    """

    def __init__(self,
                 sam: Union[Sam, dict],
                 prompt_generator: Union[dict, BasePromptGenerator],
                 selector: Union[dict, BaseSelector],
                 batch_size: int = 4,
                 device: Union[str, torch.device] = 'cpu',
                 cache: Optional[object] = None,
                 seed: int = 0,
                 multimask_output: bool = False,
                 cam_channel: int = 0,
                 foreground_value: int = 1,
                 progress: bool = True,
                 decode_batch: int = 1) -> None:
        if isinstance(sam, dict):
            sam = build_sam(**sam)
        self.predictor = BatchedSamPredictor(
            sam, prompt_generator, batch_size=batch_size, device=device, cache=cache,
            seed=seed, multimask_output=multimask_output, cam_channel=cam_channel,
            foreground_value=foreground_value, decode_batch=decode_batch)
        self.selector = build_if_config(PSEUDO_LABEL_SELECTORS, selector)
        self.progress = progress
        self._fingerprint: Optional[str] = None

    @property
    def images_encoded(self) -> int:
        """Images run through SAM's encoder since creation."""
        return self.predictor.images_encoded

    def settings(self) -> Dict:
        """What determines the output; stored as ``settings.json`` and checked on reruns."""
        if self._fingerprint is None:
            self._fingerprint = weights_fingerprint(self.predictor.sam)
            adapter = getattr(self.predictor.cache, 'adapter', None)
            if adapter is not None:  # an adapter-tuned SAM (AdaptedSamEmbedder)
                self._fingerprint += f'+{type(adapter).__name__}:{weights_fingerprint(adapter)}'
        p = self.predictor
        return dict(prompt_generator=repr(p.prompt_generator), selector=repr(self.selector),
                    seed=p.seed, multimask_output=p.multimask_output,
                    cam_channel=p.cam_channel, foreground_value=p.foreground_value,
                    sam_weights=self._fingerprint)

    # --- pseudo-labels ------------------------------------------------------------
    def run(self, items: Sequence[ItemLike], out_dir: str, rank: int = 0,
            world_size: int = 1) -> PseudoLabelReport:
        """Pseudo-label this rank's batches of ``items`` into ``out_dir``.

        The items are cut into batches of ``batch_size`` in the given order;
        rank ``r`` takes batches ``r::world_size`` (see the module docstring).

        Args:
            items: ``(img_path, cam_path, initial_mask_path)`` of every
                positive patch (the same list on every rank).
            out_dir: Output folder (see :mod:`epsam.pseudo_labels.writer`).
            rank: This process's index, ``0 <= rank < world_size``.
            world_size: Number of processes sharing the items.

        Returns:
            :class:`PseudoLabelReport`; ``summary.json`` is written by the
            call that finds every item recorded (the last rank to finish).
        """
        items = _as_items(items)
        if not 0 <= rank < world_size:
            raise ValueError(f'need 0 <= rank < world_size, got rank={rank}, '
                             f'world_size={world_size}')
        folder = PseudoLabelFolder(out_dir)
        settings = self.settings()
        folder.check_settings(settings)
        size = self.predictor.batch_size
        mine = [items[i:i + size] for i in range(0, len(items), size)][rank::world_size]
        done = {item.stem for batch in mine for item in batch if folder.is_done(item.stem)}
        todo = [batch for batch in mine if any(item.stem not in done for item in batch)]
        report = PseudoLabelReport(out_dir=folder.out_dir, rank=rank, world_size=world_size,
                                   items=sum(len(batch) for batch in mine), skipped=len(done))
        start_stats = self.predictor.stats()
        write_seconds = 0.0
        bar = progress_bar(report.items - len(done), enabled=self.progress,
                           label='pseudo-labels: ')
        try:
            for batch in todo:
                for prediction in self.predictor.predict(batch):
                    if prediction.item.stem in done:
                        continue  # finished earlier; encoded again only to keep the batch whole
                    write_seconds += self._record(folder, prediction, report)
                    bar.update()
        finally:
            bar.close()
        stats = self.predictor.stats()
        report.images_encoded = stats['images_encoded'] - start_stats['images_encoded']
        report.encoder_calls = stats['encoder_calls'] - start_stats['encoder_calls']
        report.seconds = {key: stats['seconds'][key] - start_stats['seconds'][key]
                          for key in stats['seconds']}
        report.seconds['write'] = write_seconds
        stems = [item.stem for item in items]
        if not folder.missing(stems):
            report.summary = folder.summarise(stems, extra=dict(settings=settings))
        return report

    def _record(self, folder: PseudoLabelFolder, prediction: SamPrediction,
                report: PseudoLabelReport) -> float:
        """Select, write and count one prediction; returns the seconds spent."""
        start = time.perf_counter()
        item, prompts = prediction.item, prediction.prompts
        record = dict(stem=item.stem, img_path=str(item.img_path), keep=False, score=None,
                      reason='', predicted_iou=None, mask=None,
                      num_points=prompts.num_points if prompts is not None else 0,
                      num_boxes=prompts.num_boxes if prompts is not None else 0)
        mask = None
        if prediction.error is not None:
            message = str(prediction.error)
            record.update(status=ERROR, reason='could not read the item', message=message)
            report.errors.append((item.stem, message))
        elif prediction.mask is None:
            record.update(status=EMPTY_PROMPTS, reason='no prompt (empty CAM mask)')
            report.empty_prompts += 1
        else:
            result = self.selector(prediction.mask, prediction.cam_mask,
                                   prediction.predicted_iou)
            record.update(keep=bool(result.keep), score=round(float(result.score), 6),
                          reason=result.reason,
                          predicted_iou=round(prediction.predicted_iou, 4))
            if result.keep:
                record.update(status=KEPT, mask=f'masks/{item.stem}.png')
                mask = prediction.mask
                report.kept += 1
            else:
                record['status'] = REJECTED
                report.rejected += 1
        folder.write(record, mask)
        return time.perf_counter() - start

    def summarise(self, items: Sequence[ItemLike], out_dir: str) -> Dict:
        """Write ``records.jsonl`` and ``summary.json`` once every rank has finished.

        Raises:
            RuntimeError: an item has no record yet.
        """
        stems = [item.stem for item in _as_items(items)]
        return PseudoLabelFolder(out_dir).summarise(stems, extra=dict(settings=self.settings()))

    # --- plain SAM masks (evaluation) ------------------------------------------
    def predict_masks(self, items: Sequence[ItemLike], out_dir: Optional[str] = None,
                      return_masks: bool = True) -> Dict[str, Optional[np.ndarray]]:
        """SAM's masks for CAM-prompted items, without selection (for evaluation).

        For per-item predicted IoUs and prompts, iterate
        ``self.predictor.predict(items)`` instead.

        Args:
            items: ``(img_path, cam_path, initial_mask_path)`` per image.
            out_dir: When given, each mask is also written (0/1 uint8 PNG,
                atomically) to ``{out_dir}/{stem}.png``.
            return_masks: Keep the masks in the returned dict; pass False
                with ``out_dir`` to save memory on large splits.

        Returns:
            ``stem -> (H, W)`` bool mask, or ``None`` for an image without
            prompts (nothing is written for it) and for every image when
            ``return_masks`` is False.

        Raises:
            PatchFileError: an item's files cannot be read.
        """
        items = _as_items(items)
        masks: Dict[str, Optional[np.ndarray]] = {}
        for prediction in self.predictor.predict(items):
            if prediction.error is not None:
                raise prediction.error
            masks[prediction.item.stem] = prediction.mask if return_masks else None
            if out_dir is not None and prediction.mask is not None:
                save_label_png(osp.join(out_dir, f'{prediction.item.stem}.png'),
                               prediction.mask.astype(np.uint8))
        return masks


def _as_items(items: Sequence[ItemLike]) -> List[PseudoLabelItem]:
    """Items as :class:`PseudoLabelItem`, with unique stems."""
    converted = []
    for index, item in enumerate(items):
        if isinstance(item, PseudoLabelItem):
            converted.append(item)
            continue
        if isinstance(item, (str, bytes)) or len(item) != 3:
            raise ValueError(f'item {index} must be (img_path, cam_path, initial_mask_path), '
                             f'got {item!r}')
        converted.append(PseudoLabelItem(*(str(part) for part in item)))
    check_unique_stems(converted)
    return converted
