"""Wall time of the pipeline's sharded stages on 1 and N processes, and their ratio.

Trains the tiny pipeline once (one process), then reruns its sharded stages
(CAMs, pseudo-labels, evaluation) from copies of that work dir, once with
``tools/run_pipeline.py`` and once with ``tools/dist_pipeline.sh CONFIG N``,
and prints each stage's seconds (from its ``stage_done.json``), the ratio
N-process / 1-process, and ``/proc/loadavg``::

    python tools/benchmarks/pipeline_scaling.py --procs 2 --num-train 64 --patch-size 128
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time

import epsam  # noqa: F401  (installs the mmcv-lite op fallback first)
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.pipeline.stage_names import CAM_STAGE, EVALUATION_STAGE, pseudo_label_stage
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs', 'epsam',
                  'epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py')
SHARDED = (CAM_STAGE, pseudo_label_stage(1), EVALUATION_STAGE)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--procs', type=int, default=2, help='processes of the sharded run')
    parser.add_argument('--num-train', type=int, default=64, help='synthetic train patches')
    parser.add_argument('--patch-size', type=int, default=128, help='patch side in pixels')
    parser.add_argument('--batch-size', type=int, default=4,
                        help='CAM, pseudo-label and evaluation batch size')
    return parser.parse_args()


def write_config(root: str, args) -> str:
    data_root = osp.join(root, 'data')
    generate_camelyon_like(data_root, num_train=args.num_train, num_val=4,
                           num_test=max(8, args.num_train // 2), patch_size=args.patch_size,
                           seed=1)
    cfg = Config.fromfile(CONFIG)
    cfg.data_root = data_root
    cfg.classifier.config = osp.join(REPO, cfg.classifier.config)
    cfg.classifier.cfg_options = {'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
                                  'default_hooks.checkpoint.interval': 2,
                                  'cam_cfg.batch_size': args.batch_size}
    cfg.sam_tuning.config = osp.join(REPO, cfg.sam_tuning.config)
    cfg.sam_tuning.cfg_options = {'train_cfg.max_epochs': 1, 'param_scheduler.0.T_max': 1}
    cfg.iterations = 1
    cfg.pseudo_labels.batch_size = cfg.evaluation.batch_size = args.batch_size
    cfg.evaluation.num_pictures = 0
    path = osp.join(root, 'pipeline.py')
    cfg.dump(path)
    return path


def run(command, work_dir: str) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    start = time.time()
    proc = subprocess.run([*command, '--work-dir', work_dir, '--device', 'cpu'], cwd=REPO,
                          env=env, capture_output=True, text=True)
    if proc.returncode:
        sys.exit((proc.stdout + proc.stderr)[-4000:])
    return time.time() - start


def stage_seconds(work_dir: str) -> dict:
    seconds = {}
    for stage in SHARDED:
        with open(osp.join(work_dir, stage, 'stage_done.json')) as stream:
            seconds[stage] = float(json.load(stream)['seconds'])
    return seconds


def sharded_copy(source: str, target: str) -> str:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns('.epsam.lock'))
    for stage in (*SHARDED, 'embedding_cache'):
        shutil.rmtree(osp.join(target, stage), ignore_errors=True)
    return target


def main() -> None:
    args = parse_args()
    root = tempfile.mkdtemp(prefix='epsam_scaling_')
    config = write_config(root, args)
    single = [sys.executable, 'tools/run_pipeline.py', config]
    run(single, osp.join(root, 'trained'))
    one = run(single, sharded_copy(osp.join(root, 'trained'), osp.join(root, 'one')))
    many = run(['bash', 'tools/dist_pipeline.sh', config, str(args.procs)],
               sharded_copy(osp.join(root, 'trained'), osp.join(root, 'many')))
    first, second = stage_seconds(osp.join(root, 'one')), stage_seconds(osp.join(root, 'many'))
    print(f'{args.num_train} train patches of {args.patch_size} px, batch {args.batch_size}, '
          f'{os.cpu_count()} CPU(s)')
    print(f'{"stage":30s} {"1 proc (s)":>11s} {f"{args.procs} procs (s)":>12s} {"ratio":>7s}')
    for stage in SHARDED:
        print(f'{stage:30s} {first[stage]:11.2f} {second[stage]:12.2f} '
              f'{second[stage] / first[stage]:7.2f}')
    print(f'{"whole command (wall)":30s} {one:11.2f} {many:12.2f} {many / one:7.2f}')
    with open('/proc/loadavg') as stream:
        print(f'/proc/loadavg: {stream.read().strip()}')
    shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
