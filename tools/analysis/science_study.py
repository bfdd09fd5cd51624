"""Does CAM-prompted, tuned LiteMedSAM beat the CAM? The study behind docs/science.md.

For each dataset (Camelyon layout) and seed, in ``--out``:

1. ``{dataset}/seed{S}/epsam-recipe``: the classifier and CAMs (steps 1-2),
   the prompt study (CAM mask makers; untuned LiteMedSAM with points, boxes,
   both; ``tools/analysis/prompt_study.py``), then the whole pipeline with
   EP-SAM's CAM recipe (10th percentile of the non-zero CAM + opening) and
   component boxes;
2. ``{dataset}/seed{S}/otsu``: the same classifier (reused), CAM masks at
   Otsu's threshold, component boxes, the whole pipeline;
3. ``{dataset}/seed{S}/epsam-points``: the same classifier, EP-SAM's recipe
   and EP-SAM's point prompts throughout.

The seed is the training seed of the classifier and of every SAM tuning run,
and the seed of the prompt draws. One embedding cache per dataset serves every
run (its keys hold the pixels, the preprocessing and the encoder weights).
``--collect`` (also run at the end) writes ``science_tables.md`` and
``science.json``: every row's mean and sample standard deviation over the
seeds, and how many pseudo-labels IDS kept at each iteration. Each step is
skipped when its outputs exist, so an interrupted study resumes.

Example::

    python tools/analysis/science_study.py --out work_dirs/science --seeds 0 1 2
"""
import argparse
import json
import os.path as osp
import statistics
import subprocess
import sys
from typing import Dict, List, Optional

from epsam.pipeline.stage_names import EVALUATION_STAGE, pseudo_label_stage

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = {
    'epsam-recipe': 'configs/epsam/epsam-pipeline_r18tiny-cam_lite-medsam-decoder-box_3iter_'
                    'synthetic-camelyon-128x128.py',
    'otsu': 'configs/epsam/epsam-pipeline_r18tiny-cam-otsu_lite-medsam-decoder-box_3iter_'
            'synthetic-camelyon-128x128.py',
    'epsam-points': 'configs/epsam/epsam-pipeline_r18tiny-cam_lite-medsam-decoder-points_3iter_'
                    'synthetic-camelyon-128x128.py',
}
# CAD (reduced for the CPU: one block at 128 px) and its memory-lean form, with Otsu masks.
CONFIGS['otsu-cad-small'] = CONFIGS['otsu-cad-small-lean'] = CONFIGS['otsu']
DEFAULT_RUNS = ['epsam-recipe', 'otsu', 'epsam-points']
#: Extra options of a run (its tuning config), beside its pipeline config.
RUN_OPTIONS = {
    'otsu-cad-small': ['sam_tuning.config=configs/sam_tuning/sam-cad-small-box_lite-medsam_1xb4-5e_'
                       'pseudo-masks.py'],
    'otsu-cad-small-lean': ['sam_tuning.config=configs/sam_tuning/'
                            'sam-cad-small-lean-box_lite-medsam_1xb4-5e_pseudo-masks.py'],
}
DATASETS = {
    'synthetic': ('data/synthetic_camelyon', 'synthetic Camelyon (128 px)'),
    'real': ('data/real_camelyon', 'real H&E, skin epithelium by a stain rule (128 px)'),
}
DATA_COMMANDS = {
    'synthetic': ['tools/dataset_converters/generate_synthetic_data.py', 'camelyon', '--out',
                  'data/synthetic_camelyon', '--num-train', '120', '--num-val', '20',
                  '--num-test', '40'],
    'real': ['tools/dataset_converters/generate_real_he_data.py', 'camelyon', '--out',
             'data/real_camelyon'],
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--out', default='work_dirs/science')
    parser.add_argument('--datasets', nargs='+', default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--runs', nargs='+', default=DEFAULT_RUNS, choices=list(CONFIGS))
    parser.add_argument('--collect', action='store_true', help='only collect finished runs')
    return parser.parse_args(argv)


def run(command: List[str]) -> None:
    print('[science] ' + ' '.join(command), flush=True)
    subprocess.run([sys.executable, *command], cwd=ROOT, check=True)


def options(dataset: str, seed: int, out: str) -> List[str]:
    return [f'data_root={DATASETS[dataset][0]}', f'seed={seed}', f'pseudo_labels.seed={seed}',
            f'evaluation.seed={seed}',
            f'embedding_cache.cache_dir={osp.join(out, dataset, "embedding_cache")}']


def run_seed(dataset: str, seed: int, out: str, runs: List[str]) -> None:
    base = osp.join(out, dataset, f'seed{seed}', 'epsam-recipe')
    common = options(dataset, seed, out)
    if not osp.isfile(osp.join(base, 'prompt_study', 'prompt_study.json')):
        run(['tools/analysis/prompt_study.py', CONFIGS['epsam-recipe'], base,
             '--cfg-options', *common])
    for name in runs:
        work_dir = osp.join(out, dataset, f'seed{seed}', name)
        if osp.isfile(osp.join(work_dir, EVALUATION_STAGE, 'stage_done.json')):
            continue
        reuse = [] if name == 'epsam-recipe' else [f'classifier.checkpoint={base}']
        run(['tools/run_pipeline.py', CONFIGS[name], '--work-dir', work_dir,
             '--cfg-options', *common, *reuse, *RUN_OPTIONS.get(name, [])])


# --- collecting -------------------------------------------------------------------
def _read(path: str) -> Optional[Dict]:
    if not osp.isfile(path):
        return None
    with open(path, encoding='utf-8') as stream:
        return json.load(stream)


def _spread(values: List[float]) -> Dict[str, float]:
    return dict(mean=statistics.fmean(values), sd=statistics.stdev(values) if len(values) > 1
                else 0.0, n=len(values))


def _cell(stats: Dict[str, float]) -> str:
    return f"{stats['mean']:.1f} ± {stats['sd']:.1f}" if stats['n'] > 1 else \
        f"{stats['mean']:.1f}"


def collect(out: str, datasets: List[str], seeds: List[int], runs: List[str]) -> Dict:
    """Mean and spread over seeds of every table row; IDS counts per iteration."""
    result: Dict = {}
    for dataset in datasets:
        prompt_rows: Dict[str, Dict[str, List[float]]] = {}
        run_rows: Dict[str, Dict[str, Dict[str, List[float]]]] = {}
        kept: Dict[str, Dict[int, List[int]]] = {}
        images = set()
        for seed in seeds:
            seed_dir = osp.join(out, dataset, f'seed{seed}')
            study = _read(osp.join(seed_dir, 'epsam-recipe', 'prompt_study', 'prompt_study.json'))
            for row in (study or {}).get('rows', []):
                key = f"{row['masks']} | {row['prompts']}"
                for metric in ('dice', 'iou', 'mean_foreground', 'whole_patch_masks'):
                    prompt_rows.setdefault(key, {}).setdefault(metric, []).append(row[metric])
            for name in runs:
                record = _read(osp.join(seed_dir, name, EVALUATION_STAGE, 'stage_done.json'))
                if record is None:
                    continue
                images.add(record['images'])
                for row in record['rows']:
                    target = run_rows.setdefault(name, {}).setdefault(row['method'], {})
                    # Rows of older epsam records carry their scores at the top level.
                    scores = row.get('metrics', row)
                    for metric in ('dice', 'iou', 'whole_patch_masks'):
                        target.setdefault(metric, []).append(scores.get(metric, 0))
                for iteration in range(1, 10):
                    stage = _read(osp.join(seed_dir, name, pseudo_label_stage(iteration),
                                           'stage_done.json'))
                    if stage is None:
                        break
                    kept.setdefault(name, {}).setdefault(iteration, []).append(
                        f"{stage['counts'].get('kept', 0)}/{stage['counts'].get('items', 0)}")
        result[dataset] = dict(
            images=sorted(images),
            prompt_study={k: {m: _spread(v) for m, v in row.items()}
                          for k, row in prompt_rows.items()},
            runs={name: {method: {m: _spread(v) for m, v in row.items()}
                         for method, row in rows.items()} for name, rows in run_rows.items()},
            ids_kept=kept)
    return result


def markdown(result: Dict, seeds: List[int]) -> str:
    lines = []
    for dataset, data in result.items():
        lines += [f'## {DATASETS[dataset][1]}', '',
                  f'Seeds {seeds}; mean ± sample SD over seeds; test positives per seed: '
                  f"{data['images']}.", '',
                  '### CAM masks and untuned LiteMedSAM prompts', '',
                  '| CAM masks | prompts | Dice (%) | IoU (%) | mean area (%) | '
                  'whole-patch masks |',
                  '|---|---|---|---|---|---|']
        for key, row in data['prompt_study'].items():
            masks, prompts = key.split(' | ')
            lines.append(f"| {masks} | {prompts} | {_cell(row['dice'])} | {_cell(row['iou'])} | "
                         f"{_cell(row['mean_foreground'])} | {_cell(row['whole_patch_masks'])} |")
        for name, rows in data['runs'].items():
            lines += ['', f'### Pipeline: {name}', '',
                      '| method | Dice (%) | IoU (%) | whole-patch masks |', '|---|---|---|---|']
            for method, row in rows.items():
                lines.append(f"| {method} | {_cell(row['dice'])} | {_cell(row['iou'])} | "
                             f"{_cell(row['whole_patch_masks'])} |")
            counts = data['ids_kept'].get(name, {})
            if counts:
                lines += ['', 'Pseudo-labels kept by IDS (tau 0.9), per seed: ' + '; '.join(
                    f'iteration {i}: {", ".join(v)}' for i, v in counts.items()) + '.']
        lines.append('')
    return '\n'.join(lines)


def chart(result: Dict, path: str) -> None:
    """One panel per dataset: Dice (mean, SD error bars, value labels) of every pipeline's rows."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    panels = [(d, data) for d, data in result.items() if data['runs']]
    if not panels:
        return
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 4.2 * len(panels)), squeeze=False)
    for axis, (dataset, data) in zip(axes[:, 0], panels):
        labels, means, sds, colours = [], [], [], []
        palette = ['#4c72b0', '#dd8452', '#55a868', '#c44e52', '#8172b3']
        for index, (name, rows) in enumerate(data['runs'].items()):
            for method, row in rows.items():
                if index and not method.startswith(('SAM', 'CAM initial')):
                    continue  # baselines once
                short = method.replace('SAM tuned on pseudo-labels', 'tuned').replace(
                    'SAM tuned on CAM masks', 'tuned').replace('SAM + CAM prompts, ', '')
                labels.append(f'{name}: {short[:38]}' if method.startswith(('SAM', 'CAM initial'))
                              else short[:46])
                means.append(row['dice']['mean'])
                sds.append(row['dice']['sd'])
                colours.append('#999999' if not method.startswith(('SAM', 'CAM initial'))
                               else palette[index % len(palette)])
        positions = range(len(labels))
        bars = axis.barh(list(positions), means, xerr=sds, color=colours, capsize=3)
        for bar, mean in zip(bars, means):
            axis.text(mean + 1, bar.get_y() + bar.get_height() / 2, f'{mean:.1f}',
                      va='center', fontsize=7)
        axis.set_yticks(list(positions), labels, fontsize=7)
        axis.invert_yaxis()
        axis.set_xlim(0, 105)
        axis.set_xlabel('Dice (%) on positive test patches, mean ± SD over seeds')
        axis.set_title(f'{DATASETS[dataset][1]} - LiteMedSAM', fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> Dict:
    args = parse_args(argv)
    out = args.out if osp.isabs(args.out) else osp.join(ROOT, args.out)
    if not args.collect:
        for dataset in args.datasets:
            if not osp.isdir(osp.join(ROOT, DATASETS[dataset][0])):
                run(DATA_COMMANDS[dataset])
            for seed in args.seeds:
                run_seed(dataset, seed, out, args.runs)
    result = collect(out, args.datasets, args.seeds, args.runs)
    text = markdown(result, args.seeds)
    with open(osp.join(out, 'science_tables.md'), 'w', encoding='utf-8') as stream:
        stream.write(text)
    with open(osp.join(out, 'science.json'), 'w', encoding='utf-8') as stream:
        json.dump(result, stream, indent=2)
    chart(result, osp.join(out, 'science_dice.png'))
    print(text)
    return result


if __name__ == '__main__':
    main()
