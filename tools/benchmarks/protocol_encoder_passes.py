"""SAM image-encoder passes and wall time of the whole EP-SAM protocol, cache on vs off.

Example::

    python tools/benchmarks/protocol_encoder_passes.py --num-train 32 --num-test 16 \
        --iterations 3 --sam-epochs 20

The synthetic Camelyon-layout data is written once; the pipeline
(``configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3it_...py``:
classifier, CAMs, preliminary SAM tuning, ``--iterations`` x (pseudo-labels +
SAM tuning for ``--sam-epochs`` epochs), evaluation) then runs twice in this
process, into two work dirs: with ``embedding_cache.enabled=False`` and with
``True``. Every call of any ``segment_anything`` ``ImageEncoderViT`` is counted
by a global forward hook (images = the batch size of the call), per pipeline
stage. The script prints passes, encoder seconds and wall time per stage and
in total with their ratios, and checks that both runs wrote byte-identical
pseudo-label PNGs and the same Dice/IoU table.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional

import torch
from mmengine.config import Config
from prettytable import PrettyTable
from segment_anything.modeling import ImageEncoderViT

import epsam  # noqa: F401
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.pipeline import EPSAMPipeline

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO_ROOT, 'configs', 'epsam',
                  'epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3it_synthetic-camelyon-128x128.py')
SHARED_STAGES = ('stage1_classifier', 'stage2_cams')


class EncoderPassCounter:
    """Count images through every ``ImageEncoderViT`` while active, per stage.

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

    def _pre(self, module, args):
        if isinstance(module, ImageEncoderViT):
            self.images[self.stage] += int(args[0].shape[0])
            self.calls[self.stage] += 1
            self._started.append(time.perf_counter())

    def _post(self, module, args, output):
        if isinstance(module, ImageEncoderViT) and self._started:
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

    def run_stage(self, stage, fn):
        self.counter.stage = stage
        start = time.perf_counter()
        try:
            return super().run_stage(stage, fn)
        finally:
            self.stage_wall[stage] = time.perf_counter() - start
            self.counter.stage = 'outside stages'


def protocol_config(data_root: str, *, iterations: int, sam_epochs: int,
                    classifier_epochs: int, cache: bool, num_pictures: int = 6,
                    ids_threshold: float = 0.9) -> Config:
    """The synthetic pipeline config, resized, with the embedding cache on or off.

    Args:
        data_root: Synthetic Camelyon-layout data.
        iterations: Pseudo-label / re-tuning rounds after the preliminary tuning.
        sam_epochs: Epochs of every SAM decoder tuning.
        classifier_epochs: Epochs of the stage-1 classifier.
        cache: ``embedding_cache.enabled``.
        num_pictures: Patches per picture grid of the evaluation stage.
        ids_threshold: Threshold of the IDS pseudo-label selector (EP-SAM: 0.9;
            0 keeps every pseudo-label, so every one is written and compared).
    """
    cfg = Config.fromfile(CONFIG)
    cfg.data_root = data_root
    cfg.classifier.config = osp.join(REPO_ROOT, cfg.classifier.config)
    cfg.classifier.cfg_options = {
        'train_cfg.max_epochs': classifier_epochs, 'train_cfg.val_interval': classifier_epochs,
        'default_hooks.checkpoint.interval': classifier_epochs,
        'param_scheduler.0.T_max': classifier_epochs}
    cfg.sam_tuning.config = osp.join(REPO_ROOT, cfg.sam_tuning.config)
    cfg.sam_tuning.cfg_options = {'train_cfg.max_epochs': sam_epochs,
                                  'param_scheduler.0.T_max': sam_epochs}
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
                wall=wall, rows=evaluation['rows'])


def compare_pseudo_labels(work_a: str, work_b: str, iterations: int) -> Dict:
    """Compare the pseudo-label PNGs of two runs, iteration by iteration.

    Returns:
        ``files`` (PNGs in run a), ``identical`` (byte-identical in both) and
        ``different`` (stems missing from one run or differing in bytes).
    """
    files, identical, different = 0, 0, []
    for iteration in range(1, iterations + 1):
        sub = osp.join(f'stage4_pseudo_labels_iter{iteration}', 'masks')
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
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
    parser.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    parser.add_argument('--work-dir', help='keep both runs here (default: a temporary folder)')
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args(argv)


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
                      ids_threshold=args.ids_threshold)
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
              f'{args.patch_size} px, tiny SAM, preliminary tuning + {args.iterations} '
              f'iteration(s) x {args.sam_epochs} SAM epochs; {torch.get_num_threads()} thread(s)')
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
        result = dict(args=vars(args), cache_off=off, cache_on=on, pseudo_labels=labels,
                      dice_equal=dice_equal)
        if args.out:
            with open(args.out, 'w') as f:
                json.dump(result, f, indent=1, default=str)
        return result
    finally:
        if not args.work_dir:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
