"""EP-SAM step 2: CAMs and initial masks of a split, batched, resumable and sharded.

:func:`generate_cams` runs a trained :class:`~epsam.models.classifiers.CAMClassifier`
over a dataset and writes, per item, ``cams/{stem}.npz`` and
``masks/{stem}.png`` (the contract of docs/architecture.md, through
:mod:`epsam.fileio.cam_store`), a record, and ``summary.json`` last
(see :class:`~epsam.cams.cam_folder.CamFolder`).

Reproducible: items are processed in fixed batches, ``work[i:i + batch_size]``
for ``i = 0, batch_size, ...`` where ``work`` is the dataset order (only the
label-positive items when ``only_positive`` uses labels). The classifier's
outputs differ in their last bits between batch compositions (BLAS kernels
depend on the batch shape), which could move a CAM value across a
quantisation step or a threshold; with fixed batches, a run sharded over
ranks writes the same bytes as a single run with the same ``batch_size``.
Rank ``r`` of ``w`` takes batches ``r, r + w, ...``; a batch with any
unfinished item is computed whole, so resumed runs keep the compositions too.
Images of different sizes inside a batch are forwarded in per-size groups.
"""
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import (Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence, Set, Tuple,
                    TypeVar, Union)

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from torch import Tensor, nn

from epsam.fileio.fingerprints import weights_fingerprint
from epsam.fileio.items import file_stem
from epsam.utils.progress import progress_bar

from .batch_compute import (WeightCache, build_cam_method, build_mask_maker,
                            compute_cams_and_logits, describe_component, is_square_batch,
                            tta_copies)
from .cam_folder import CamFolder
from .item_writer import CamItemWriter
from .tta import TTACAM

__all__ = ['CamGenerationReport', 'generate_cams', 'LABEL_SOURCES']

#: Where the positive / negative decision of an image comes from.
LABEL_SOURCES = ('label', 'prediction')

T = TypeVar('T')


@dataclass
class CamGenerationReport:
    """What one :func:`generate_cams` call did (its shard only).

    Args:
        out_dir: The output folder.
        rank: This call's rank.
        world_size: Number of ranks.
        images: Images in the dataset.
        items: Items in this rank's batches.
        skipped: Of those, items finished by an earlier run.
        masked: Items given a CAM file and a mask by this call.
        negative: Items found negative by this call (no files).
        empty_cams: Masked items whose CAM has no positive pixel.
        empty_masks: Masked items whose mask has no foreground pixel.
        images_forwarded: Images run through the classifier by this call.
        vis_written: Picture grids written.
        seconds: Seconds per stage (``load``: waiting for the loader thread,
            which on a CPU also runs the data preprocessor; ``forward``;
            ``masks`` and ``write`` summed over the writer threads).
        summary: The folder's summary when every item was finished after this
            call (else ``None``: another rank is still busy).
    """

    out_dir: str
    rank: int = 0
    world_size: int = 1
    images: int = 0
    items: int = 0
    skipped: int = 0
    masked: int = 0
    negative: int = 0
    empty_cams: int = 0
    empty_masks: int = 0
    images_forwarded: int = 0
    vis_written: int = 0
    seconds: Dict[str, float] = field(default_factory=dict)
    summary: Optional[Dict] = None

    def __str__(self) -> str:
        return (f'CAMs rank {self.rank}/{self.world_size} in {self.out_dir}: {self.items} '
                f'item(s) of {self.images}, {self.skipped} already done, {self.masked} masked '
                f'({self.empty_masks} empty mask(s), {self.empty_cams} empty CAM(s)), '
                f'{self.negative} negative')


def generate_cams(model: nn.Module,
                  dataset,
                  out_dir: str,
                  *,
                  cam_method: Union[dict, Callable],
                  mask_maker: Union[dict, Callable],
                  batch_size: int = 8,
                  only_positive: bool = True,
                  label_source: str = 'label',
                  positive_threshold: Optional[float] = None,
                  device: Union[str, torch.device] = 'cpu',
                  rank: int = 0,
                  world_size: int = 1,
                  progress: bool = True,
                  visualize: int = 0,
                  stack_tta: bool = True,
                  write_workers: int = 2,
                  checkpoint: Optional[str] = None) -> CamGenerationReport:
    """Write CAMs and initial masks of ``dataset`` into ``out_dir``.

    Args:
        model: A built ``CAMClassifier`` (its weights loaded); it is moved to
            ``device`` and put in eval mode.
        dataset: A built patch dataset whose pipeline loads the image (and
            optionally the mask) and packs it (``PackPatchInputs``), without
            random augmentation; its metainfo gives ``cls_classes``.
        out_dir: Output folder (see :mod:`epsam.cams.cam_folder`).
        cam_method: A ``CAM_METHODS`` config or callable
            ``(model, inputs) -> (B, K, H, W)`` in [0, 1], e.g.
            ``dict(type='TTACAM', cam_method=dict(type='CAM'), hflip=False)``.
        mask_maker: A ``MASK_MAKERS`` config or object: a binary maker
            (``PercentileMaskMaker``, ...; one CAM channel) gives 0/1 masks,
            ``MultiClassMaskMaker`` gives class maps with 255 = ignore.
        batch_size: Images per forward pass (x the TTA copies when stacked).
        only_positive: Only positive images get a CAM file and a mask (EP-SAM).
        label_source: ``'label'``: an image is positive when its image-level
            label (``gt_label``, the weak label) has a 1; ``'prediction'``:
            when a class score (sigmoid) is ``>= positive_threshold``, for
            unlabelled data. The same decision gives ``MultiClassMaskMaker``
            the classes present.
        positive_threshold: Score threshold of ``'prediction'`` (None: 0.5).
        device: Where the classifier runs.
        rank: This process's index, ``0 <= rank < world_size``.
        world_size: Number of processes sharing the items (same arguments).
        progress: Show mmengine's progress bar (rank 0 only).
        visualize: Write picture grids (``vis/{stem}.png``) for the first
            ``visualize`` items of the work list that this call processes.
        stack_tta: Forward all TTA copies of a batch at once (square images
            only; memory grows with the number of copies).
        write_workers: Threads that make the masks and write the files while
            the next batch is forwarded (0: inline). Outputs do not depend on it.
        checkpoint: The checkpoint path, recorded in the summary.

    Returns:
        :class:`CamGenerationReport`; ``summary.json`` is written by the call
        that finds every item finished (the last rank).
    """
    if label_source not in LABEL_SOURCES:
        raise ValueError(f'generate_cams: label_source must be one of {LABEL_SOURCES}, '
                         f'got {label_source!r}')
    if positive_threshold is not None and label_source != 'prediction':
        raise ValueError("generate_cams: positive_threshold applies to label_source="
                         f"'prediction' only (got label_source={label_source!r})")
    threshold = 0.5 if positive_threshold is None else float(positive_threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f'generate_cams: positive_threshold must be in [0, 1], got {threshold}')
    if batch_size < 1:
        raise ValueError(f'generate_cams: batch_size must be >= 1, got {batch_size}')
    if not 0 <= rank < world_size:
        raise ValueError(f'generate_cams: need 0 <= rank < world_size, got rank={rank}, '
                         f'world_size={world_size}')
    cam_method = build_cam_method(cam_method)
    mask_maker = build_mask_maker(mask_maker)
    cls_classes = tuple(dataset.metainfo.get('cls_classes') or ())
    if not cls_classes:
        raise ValueError(f'generate_cams: {type(dataset).__name__} metainfo has no cls_classes')
    if getattr(model, 'num_classes', len(cls_classes)) != len(cls_classes):
        raise ValueError(f'generate_cams: the model has {model.num_classes} classes, the '
                         f'dataset {len(cls_classes)} ({cls_classes})')
    model = model.to(device).eval()

    infos = [dataset.get_data_info(index) for index in range(len(dataset))]
    stems = [file_stem(info['img_path']) for info in infos]
    _check_unique(stems, infos)
    work = _work_list(infos, only_positive and label_source == 'label')
    work_stems = [stems[index] for index in work]
    vis_stems = set(work_stems[:max(int(visualize), 0)])

    folder = CamFolder(out_dir)
    settings = dict(cam_method=describe_component(cam_method),
                    mask_maker=describe_component(mask_maker), only_positive=bool(only_positive),
                    label_source=label_source,
                    positive_threshold=threshold if label_source == 'prediction' else None,
                    cls_classes=list(cls_classes), weights=weights_fingerprint(model))
    folder.check_settings(settings)

    batches = [work[i:i + batch_size] for i in range(0, len(work), batch_size)]
    mine = batches[rank::world_size]
    done = {stems[i] for batch in mine for i in batch if folder.is_done(stems[i])}
    report = CamGenerationReport(out_dir=folder.out_dir, rank=rank, world_size=world_size,
                                 images=len(infos), items=sum(len(b) for b in mine),
                                 skipped=len(done))
    seconds = dict(load=0.0, forward=0.0)
    bar = progress_bar(report.items - len(done), enabled=progress and rank == 0,
                       label='CAMs: ')
    writer = CamItemWriter(folder, mask_maker, cls_classes, vis_stems,
                           dataset.metainfo.get('palette'), workers=write_workers,
                           max_pending=2 * batch_size)
    forwarder = _Forwarder(model, cam_method, writer, cls_classes, label_source, threshold,
                           only_positive, stack_tta, report, seconds)
    todo = [batch for batch in mine if not all(stems[i] in done for i in batch)]
    ahead = torch.device(device).type == 'cpu'  # preprocess in the loader thread

    def load(batch: List[int]) -> List[Tuple[List[dict], Optional[_Prepared]]]:
        groups = _groups_by_size([_load(dataset, index, infos[index]) for index in batch])
        return [(group, forwarder.prepare(group) if ahead else None) for group in groups]

    try:
        for batch, groups in _prefetched(todo, load, seconds):
            for group, prepared in groups:
                forwarder.process(group, done, prepared)
            bar.update(sum(stems[i] not in done for i in batch))
    finally:
        bar.close()
        writer.close()
    for key, value in writer.counts.items():
        setattr(report, key, value)
    report.seconds = dict(seconds, **writer.seconds)
    if not folder.missing(work_stems):
        report.summary = folder.summarise(work_stems, images=len(infos), extra=dict(
            settings=settings, checkpoint=checkpoint, batch_size=batch_size))
    return report


class _Prepared(NamedTuple):
    """A group's preprocessor output and, if made ahead, its stacked TTA copies."""

    data: dict
    copies: Optional[Tensor]


@dataclass
class _Forwarder:
    """Runs the classifier on same-size groups and hands each item to the writer."""

    model: nn.Module
    cam_method: Callable
    writer: CamItemWriter
    cls_classes: Tuple[str, ...]
    label_source: str
    threshold: float
    only_positive: bool
    stack_tta: bool
    report: CamGenerationReport
    seconds: Dict[str, float]
    weight_cache: WeightCache = field(default_factory=dict)  # channels-last conv weights

    def prepare(self, samples: List[dict]) -> _Prepared:
        """Preprocess one same-size group of packed samples (run in the loader thread).

        Also stacks the TTA copies of the images that get a CAM when the labels
        decide which (no scores are needed first).
        """
        data = self.model.data_preprocessor(pseudo_collate(samples), False)
        copies = None
        if self.label_source == 'label' and self.stack_tta and \
                isinstance(self.cam_method, TTACAM) and is_square_batch(data['inputs']):
            selected = self._selection(data['data_samples'], None)[2]
            if selected:
                copies = tta_copies(self.cam_method, data['inputs'][selected])
        return _Prepared(data, copies)

    def process(self, samples: List[dict], done: Set[str],
                prepared: Optional[_Prepared] = None) -> None:
        """Forward one same-size group of packed samples and queue its items.

        Args:
            samples: The group's packed samples.
            done: Stems finished earlier (forwarded, not written again).
            prepared: The group's :meth:`prepare` output if already made.
        """
        start = time.perf_counter()
        prepared = self.prepare(samples) if prepared is None else prepared
        inputs, data_samples = prepared.data['inputs'], prepared.data['data_samples']
        scores = self._scores(inputs) if self.label_source == 'prediction' else None
        labels, positive, selected = self._selection(data_samples, scores)
        cams = logits = None
        if selected:
            cams, logits = compute_cams_and_logits(self.cam_method, self.model,
                                                   inputs[selected], self.stack_tta,
                                                   weight_cache=self.weight_cache,
                                                   copies=prepared.copies)
            cams = cams.detach().float().cpu()
        if scores is None:  # label mode: the CAM pass's logits serve when it saw every item
            scores = logits.sigmoid().float().cpu() if logits is not None and \
                len(selected) == len(samples) else self._scores(inputs)
        self.report.images_forwarded += len(samples)
        self.seconds['forward'] += time.perf_counter() - start
        for j, sample in enumerate(data_samples):
            stem = file_stem(sample.img_path)
            if stem in done:
                continue  # finished earlier; forwarded again only to keep the batch whole
            record = dict(stem=stem, img_path=str(sample.img_path), positive=positive[j],
                          label=None if labels[j] is None else labels[j].astype(int).tolist(),
                          scores=[round(float(s), 6) for s in scores[j]])
            if j in selected:
                self.writer.submit(record, cams[selected.index(j)], samples[j], sample,
                                   labels[j])
            else:
                self.writer.submit(record)

    def _selection(self, data_samples: list, scores: Optional[Tensor]
                   ) -> Tuple[List[Optional[np.ndarray]], List[Optional[bool]], List[int]]:
        """Labels, positive flags and the indices of the items that get a CAM."""
        labels = [self._label_of(sample, None if scores is None else scores[j])
                  for j, sample in enumerate(data_samples)]
        positive = [None if label is None else bool(label.any()) for label in labels]
        selected = [j for j, flag in enumerate(positive) if flag or not self.only_positive]
        return labels, positive, selected

    def _scores(self, inputs: Tensor) -> Tensor:
        """(B, K) sigmoid scores on the CPU."""
        with torch.no_grad():
            return self.model(inputs, mode='tensor').sigmoid().float().cpu()

    def _label_of(self, sample, score: Optional[Tensor]) -> Optional[np.ndarray]:
        """(K,) bool image label from the data sample or the scores."""
        if self.label_source == 'prediction':
            return (score >= self.threshold).numpy()
        if 'gt_label' not in sample:
            if self.only_positive:
                raise ValueError(f'{sample.img_path}: no image-level label (gt_label) but '
                                 "only_positive uses labels; use label_source='prediction' "
                                 'for unlabelled data')
            return None
        label = sample.gt_label.detach().cpu().numpy().reshape(-1) > 0.5
        if label.size != len(self.cls_classes):
            raise ValueError(f'{sample.img_path}: gt_label has {label.size} entries, '
                             f'cls_classes {len(self.cls_classes)}')
        return label


def _work_list(infos: Sequence[dict], positives_by_label: bool) -> List[int]:
    """Indices to process: every item, or the label-positive ones."""
    if not positives_by_label:
        return list(range(len(infos)))
    unlabelled = [info['img_path'] for info in infos if info.get('gt_label') is None]
    if unlabelled:
        raise ValueError(f'generate_cams: {len(unlabelled)} image(s) have no image-level label '
                         f"(e.g. {unlabelled[0]}) but only_positive uses labels; use "
                         "label_source='prediction' or only_positive=False")
    return [index for index, info in enumerate(infos) if any(info['gt_label'])]


def _check_unique(stems: Sequence[str], infos: Sequence[dict]) -> None:
    seen: Dict[str, str] = {}
    for stem, info in zip(stems, infos):
        if stem in seen:
            raise ValueError(f'generate_cams: outputs are named by image stem, and {stem!r} '
                             f'occurs twice ({seen[stem]} and {info["img_path"]})')
        seen[stem] = info['img_path']


def _prefetched(batches: List[List[int]], load: Callable[[List[int]], T],
                seconds: Dict[str, float]) -> Iterator[Tuple[List[int], T]]:
    """``(batch, load(batch))`` in order, the next batch loaded while this one runs.

    Reading and decoding images (file I/O, PIL / OpenCV, which release the
    GIL) and, on a CPU, the model's data preprocessor (its high-pass FFT:
    torch releases the GIL too) and the stacking of the TTA copies overlap
    the classifier's forward pass. The order and contents are those of
    loading in turn, and the same operations run on the same data, so the
    values are the same. ``seconds['load']`` grows by the time spent waiting
    for the loader, which is all of its time only for the first batch.
    """
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix='cam-prefetch') as reader:
        upcoming = reader.submit(load, batches[0])
        for position, batch in enumerate(batches):
            start = time.perf_counter()
            samples = upcoming.result()
            seconds['load'] += time.perf_counter() - start
            if position + 1 < len(batches):
                upcoming = reader.submit(load, batches[position + 1])
            yield batch, samples


def _load(dataset, index: int, info: dict) -> dict:
    """The packed sample ``index`` (no retry with another index, unlike ``__getitem__``)."""
    sample = dataset.prepare_data(index)
    if sample is None:
        raise ValueError(f'{info["img_path"]}: the dataset pipeline returned None')
    if 'inputs' not in sample or 'data_samples' not in sample:
        raise ValueError(f'{info["img_path"]}: the pipeline must end with PackPatchInputs '
                         f'(got keys {sorted(sample)})')
    return sample


def _groups_by_size(samples: List[dict]) -> List[List[dict]]:
    """Split a batch into groups of equal image size, keeping the order within each."""
    groups: Dict[tuple, List[dict]] = {}
    for sample in samples:
        groups.setdefault(tuple(sample['inputs'].shape), []).append(sample)
    return list(groups.values())
