"""Step-1 evidence on synthetic Camelyon-like data: classifier and CAM-method ablation.

One command::

    python tools/analysis/stage1_ablation.py --work-dir work_dirs/stage1_ablation

It writes synthetic data (fixed seed), trains the tiny classifier of
``configs/adl_cam/adl-cam_r18tiny-hf_*_synthetic-camelyon-*.py`` three
times with ``tools/train.py`` (EP-SAM's ADL + high-frequency channel; without
ADL; without the HF channel), keeps each run's checkpoint with the best
validation patch F1 (patch labels only), and evaluates on the test split:

- patch-level F1 of each classifier (threshold 0.5);
- initial masks from ``generate_cams`` (10th percentile, opening scaled from
  21 at 512 px) of the positive test patches against their ground truth:
  per-image Dice and IoU (EP-SAM's protocol, smoothing 1e-3), averaged;
- the per-image pixel AUROC of the CAM against the ground truth (0.5 =
  chance, below 0.5 = the CAM points at normal tissue, i.e. inverted);

for plain CAM with 4-rotation TTA on every classifier, and for the method's
classifier also without TTA, with Grad-CAM and with Grad-CAM++. Each seed
(``--seeds``) draws its own data and trainings; the table gives the mean and
standard deviation over seeds. A rerun skips the trainings whose checkpoints
exist. Results: ``results.md`` and ``results.json`` in the work folder,
picture grids in ``seed*/cams/*/vis``.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

import numpy as np
import torch
from scipy.stats import rankdata

import epsam  # noqa: F401
from epsam.cams.generation import generate_cams
from epsam.fileio.patch_io import read_patch_mask
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.evaluation.metrics import PatchClassificationMetric
from epsam.evaluation.metrics.functional import dice_iou_per_image
from epsam.fileio.cam_store import load_cam, load_label_png
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

CONFIG = osp.join(ROOT, 'configs', 'adl_cam',
                  'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py')
#: Classifier variants: title and config overrides.
VARIANTS = {
    'adl_hf': ('ADL + HF (EP-SAM)', {}),
    'no_adl': ('no ADL', {'model.backbone.adl_positions': []}),
    'no_hf': ('no HF channel', {'model.backbone.in_channels': 3,
                                'model.data_preprocessor.high_frequency': None}),
}


def tta(inner: str) -> dict:
    return dict(type='TTACAM', cam_method=dict(type=inner), rotations=(0, 90, 180, 270),
                hflip=False)


#: Table rows: (variant, CAM-method title, CAM-method config, output folder).
ROWS = [
    ('adl_hf', 'CAM + TTA (EP-SAM)', tta('CAM'), 'adl_hf-cam-tta'),
    ('adl_hf', 'CAM, no TTA', dict(type='CAM'), 'adl_hf-cam'),
    ('adl_hf', 'Grad-CAM + TTA', tta('GradCAM'), 'adl_hf-gradcam-tta'),
    ('adl_hf', 'Grad-CAM++ + TTA', tta('GradCAMPlusPlus'), 'adl_hf-gradcampp-tta'),
    ('no_adl', 'CAM + TTA', tta('CAM'), 'no_adl-cam-tta'),
    ('no_hf', 'CAM + TTA', tta('CAM'), 'no_hf-cam-tta'),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='work_dirs/stage1_ablation')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2],
                        help='data and training seeds; the table gives mean ± std')
    parser.add_argument('--num-train', type=int, default=160)
    parser.add_argument('--num-val', type=int, default=20)
    parser.add_argument('--num-test', type=int, default=40)
    parser.add_argument('--size', type=int, default=128, help='patch side in pixels')
    parser.add_argument('--epochs', type=int, default=15)
    parser.add_argument('--jobs', type=int, default=2, help='trainings run at once')
    parser.add_argument('--vis', type=int, default=4, help='picture grids per row')
    return parser.parse_args(argv)


def variant_options(variant: str, data_root: str, args, seed: int) -> Dict:
    options = {f'{split}_dataloader.dataset.data_root': data_root
               for split in ('train', 'val', 'test')}
    options.update({'randomness.seed': seed, 'train_cfg.max_epochs': args.epochs,
                    'param_scheduler.0.T_max': args.epochs})
    options.update(VARIANTS[variant][1])
    return options


def train_all(args, seed: int, work_dir: str, data_root: str) -> Dict[str, str]:
    """Train every variant (skipping finished ones); return variant -> checkpoint."""
    pending, procs = [], []
    for variant in VARIANTS:
        work = osp.join(work_dir, 'train', variant)
        if not glob.glob(osp.join(work, f'epoch_{args.epochs}.pth')):
            options = [f'{key}={value}'
                       for key, value in variant_options(variant, data_root, args, seed).items()]
            pending.append([sys.executable, osp.join(ROOT, 'tools', 'train.py'), CONFIG,
                            '--work-dir', work, '--cfg-options', *options])
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    while pending or procs:
        while pending and len(procs) < max(args.jobs, 1):
            command = pending.pop(0)
            work = command[command.index('--work-dir') + 1]
            os.makedirs(osp.dirname(work), exist_ok=True)
            log = open(work + '.log', 'w')
            print(f'training {osp.basename(work)} (log: {log.name}) ...', flush=True)
            procs.append((subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                           env=env), log, command))
        proc, log, command = procs.pop(0)
        if proc.wait() != 0:
            raise SystemExit(f'training failed, see {log.name}')
        log.close()
    checkpoints = {}
    for variant in VARIANTS:
        work = osp.join(work_dir, 'train', variant)
        best = sorted(glob.glob(osp.join(work, 'best_cls_f1_epoch_*.pth')))
        checkpoints[variant] = best[-1] if best else osp.join(work, f'epoch_{args.epochs}.pth')
    return checkpoints


def build(variant: str, checkpoint: str, data_root: str, args, seed: int):
    """The trained classifier (eval mode) and the test dataset."""
    from epsam.apis import init_model, load_config
    from epsam.registry import DATASETS
    cfg = load_config(CONFIG, variant_options(variant, data_root, args, seed))
    model = init_model(cfg, checkpoint)
    return model, DATASETS.build(cfg.test_dataloader.dataset), cfg


def patch_metrics(model, dataset) -> Dict[str, float]:
    """Patch-level metrics of the classifier on the dataset (scores >= 0.5)."""
    metric = PatchClassificationMetric()
    for start in range(0, len(dataset), 16):
        samples = [dataset[i] for i in range(start, min(start + 16, len(dataset)))]
        data = model.data_preprocessor(pseudo_collate(samples), False)
        with torch.no_grad():
            scores = model(data['inputs'], mode='tensor').sigmoid()
        metric.process(None, [dict(pred_score=s, gt_label=d.gt_label)
                              for s, d in zip(scores, data['data_samples'])])
    return metric.compute_metrics(metric.results)


def pixel_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for the ``positive`` pixels (ties averaged)."""
    ranks = rankdata(scores.ravel())
    positive = positive.ravel()
    num_pos, num_neg = int(positive.sum()), int((~positive).sum())
    if num_pos == 0 or num_neg == 0:
        return float('nan')
    return float((ranks[positive].sum() - num_pos * (num_pos + 1) / 2) / (num_pos * num_neg))


def mask_metrics(dataset, cam_dir: Optional[str]) -> Dict[str, float]:
    """Mean per-image Dice / IoU of the initial masks and CAM AUROC, positive patches.

    ``cam_dir=None`` scores the whole patch as the mask (a reference: the
    tumour covers 20-90 % of each positive patch).
    """
    dice, iou, auc = [], [], []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        if not any(info['gt_label']):
            continue
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        gt = read_patch_mask(info['seg_map_path'], binary=True) == 1
        if cam_dir is None:
            mask, cam = np.ones_like(gt), np.ones(gt.shape, np.float32)
        else:
            mask = load_label_png(osp.join(cam_dir, 'masks', f'{stem}.png')) == 1
            cam = load_cam(osp.join(cam_dir, 'cams', f'{stem}.npz')).cam[0]
        d, i = dice_iou_per_image(torch.from_numpy(mask), torch.from_numpy(gt))
        dice.append(d)
        iou.append(i)
        auc.append(pixel_auc(cam, gt))
    auc = np.array(auc)
    return dict(dice=100 * float(np.mean(dice)), iou=100 * float(np.mean(iou)),
                auc=float(np.nanmean(auc)), inverted=int((auc < 0.5).sum()), images=len(dice))


METRICS = ('patch_f1', 'dice', 'iou', 'auc')


def aggregate(per_seed: Dict[int, List[Dict]]) -> List[Dict]:
    """Mean and standard deviation over seeds of every row's metrics."""
    rows = []
    for index in range(len(next(iter(per_seed.values())))):
        runs = [results[index] for results in per_seed.values()]
        row = dict(classifier=runs[0]['classifier'], cam_method=runs[0]['cam_method'],
                   seeds=len(runs), inverted=sum(r['inverted'] for r in runs),
                   images=sum(r['images'] for r in runs),
                   empty_masks=sum(r['empty_masks'] for r in runs))
        for key in METRICS:
            values = np.array([r[key] for r in runs], dtype=float)
            row[key] = float(values.mean())
            row[f'{key}_std'] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def table(rows: List[Dict]) -> str:
    def cell(row, key, digits):
        if np.isnan(row[key]):
            return '-'
        text = f'{row[key]:.{digits}f}'
        return text + (f' ± {row[key + "_std"]:.{digits}f}' if row['seeds'] > 1 else '')

    lines = ['| classifier | CAM method | patch F1 (test) | Dice | mIoU | CAM AUROC | '
             'AUROC < 0.5 | empty masks |', '|---|---|---|---|---|---|---|---|']
    for row in rows:
        lines.append(f"| {row['classifier']} | {row['cam_method']} | {cell(row, 'patch_f1', 1)} | "
                     f"{cell(row, 'dice', 1)} | {cell(row, 'iou', 1)} | {cell(row, 'auc', 3)} | "
                     f"{row['inverted']}/{row['images']} | {row['empty_masks']} |")
    return '\n'.join(lines)


def run_seed(args, seed: int) -> List[Dict]:
    """Data, trainings and evaluation of one seed, in ``{work_dir}/seed{seed}``."""
    work_dir = osp.join(args.work_dir, f'seed{seed}')
    data_root = osp.abspath(osp.join(work_dir, 'data'))
    generate_camelyon_like(data_root, num_train=args.num_train, num_val=args.num_val,
                           num_test=args.num_test, patch_size=args.size, seed=seed)
    checkpoints = train_all(args, seed, work_dir, data_root)
    init_default_scope('epsam')
    results, built = [], {}
    for variant, method_title, method, folder in ROWS:
        if variant not in built:
            model, dataset, cfg = build(variant, checkpoints[variant], data_root, args, seed)
            built[variant] = (model, dataset, cfg, patch_metrics(model, dataset))
        model, dataset, cfg, patch = built[variant]
        cam_dir = osp.join(work_dir, 'cams', folder)
        report = generate_cams(model, dataset, cam_dir, cam_method=method,
                               mask_maker=cfg.cam_cfg.mask_maker.to_dict(), batch_size=8,
                               progress=False, visualize=args.vis,
                               checkpoint=checkpoints[variant])
        results.append(dict(classifier=VARIANTS[variant][0], cam_method=method_title,
                            checkpoint=osp.relpath(checkpoints[variant], work_dir),
                            patch_f1=patch['f1'], patch_accuracy=patch['accuracy'],
                            empty_masks=report.summary['empty_masks'],
                            **mask_metrics(dataset, cam_dir)))
        print(f"seed {seed} | {results[-1]['classifier']:>18} | {method_title:<18} | "
              f"F1 {patch['f1']:.1f} | Dice {results[-1]['dice']:.1f} | "
              f"AUROC {results[-1]['auc']:.3f}", flush=True)
    results.append(dict(classifier='-', cam_method='whole patch as mask (reference)',
                        patch_f1=float('nan'), empty_masks=0, **mask_metrics(dataset, None)))
    return results


def main(argv=None) -> List[Dict]:
    args = parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    per_seed = {seed: run_seed(args, seed) for seed in args.seeds}
    rows = aggregate(per_seed)
    text = table(rows)
    seconds = round(time.perf_counter() - start, 1)
    with open(osp.join(args.work_dir, 'results.json'), 'w', encoding='utf-8') as stream:
        json.dump(dict(args=vars(args), seconds=seconds, rows=rows, per_seed=per_seed), stream,
                  indent=2)
    with open(osp.join(args.work_dir, 'results.md'), 'w', encoding='utf-8') as stream:
        stream.write(text + '\n')
    print(f'\n{text}\n\nseeds: {list(args.seeds)}; total seconds: {seconds}')
    return rows


if __name__ == '__main__':
    main()
