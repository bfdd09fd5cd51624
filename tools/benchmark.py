#!/usr/bin/env python
"""Benchmark table of WSSS runs: collect work dirs, or run a named benchmark set.

Examples::

    # tabulate finished runs (final_metrics.json, or tools/test.py work dirs)
    python tools/benchmark.py --collect work_dirs/epsam work_dirs/cam_baseline
    # run every entry of configs/benchmarks/synthetic_bcss.py, then tabulate
    nice -n 5 python tools/benchmark.py --run synthetic_bcss --with-published
    python tools/benchmark.py --with-published      # the published numbers alone

A benchmark set (``configs/benchmarks/{NAME}.py`` or a path) defines
``entries``: dicts with ``name`` (short id, also the work-dir name),
``method`` (table name), ``runner`` and its fields:

* ``'pipeline'``: ``python tools/run_pipeline.py CONFIG --work-dir W``; the
  pipeline writes ``W/final_metrics.json``;
* ``'train_test'``: ``tools/train.py CONFIG`` then ``tools/test.py CONFIG
  LAST_CHECKPOINT`` in ``W``; the harness writes ``W/final_metrics.json`` with
  the test metrics, the training wall time, the training process's peak
  memory and the model's trainable parameters;
* ``'command'``: ``command`` (an argv list) must write ``W/final_metrics.json``.

Optional: ``cfg_options`` (list of ``key=value``), ``dataset`` (table name),
``stand_in_sam`` (bool, or the ``name`` of the entry whose flag to copy),
``notes``, and for ``'train_test'`` entries ``seeds`` (distinct ints): the
entry then trains and tests once per seed (``randomness.seed=S``) in
``W/seed{S}``, and its row in ``W/final_metrics.json`` is the mean over the
seeds, with their spread in the notes (:mod:`epsam.benchmarking.seeds`).
Strings may hold ``{python}``, ``{repo}``, ``{work_root}``, ``{work_dir}``
(this entry's; a seed's folder for a seeded entry) and ``{work_dir:NAME}`` (another entry's).
Outputs in ``--out-dir``: ``{name}.md``, ``.csv``, ``.png``, ``.json``.
"""
import argparse
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional

import epsam  # noqa: F401  (installs the mmcv-lite op fallback first)
from epsam.apis import count_trainable_params
from epsam.benchmarking.harness import (FINAL_METRICS_FILE, BenchmarkFileError,
                                        collect, format_table, load_mmseg_test_metrics,
                                        published_benchmark_rows, write_reports)
from epsam.benchmarking.provenance import NO_SAM, sam_weights_of_config
from epsam.benchmarking.seeds import SeedMismatchError, mean_over_seeds
from epsam.fileio.atomic_io import atomic_write_json
from epsam.utils.cli import (DefaultsHelpFormatter, add_debug_argument,
                             report_user_error, run_tool)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

RUNNERS = ('pipeline', 'train_test', 'command')
_PLACEHOLDER = re.compile(r'\{(python|repo|work_root|work_dir)(?::([^{}]+))?\}')


class BenchmarkSetError(ValueError):
    """A benchmark set file with a bad entry; the message names the file and entry."""


def load_benchmark_set(name_or_path: str) -> Dict:
    """``dict(name, path, entries)`` of a set name (``configs/benchmarks/NAME.py``) or path."""
    from mmengine.config import Config
    path = name_or_path if name_or_path.endswith('.py') else osp.join(
        REPO, 'configs', 'benchmarks', f'{name_or_path}.py')
    if not osp.isfile(path):
        raise BenchmarkSetError(f'{path}: benchmark set not found')
    entries = Config.fromfile(path).to_dict().get('entries')
    if not entries or not isinstance(entries, list):
        raise BenchmarkSetError(f'{path}: needs a non-empty list "entries"')
    names = set()
    for i, entry in enumerate(entries):
        where = f'{path}: entry {i} ({entry.get("name", "?")})'
        for key in ('name', 'method', 'runner'):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise BenchmarkSetError(f'{where}: "{key}" must be a non-empty string')
        if not re.fullmatch(r'[A-Za-z0-9_.-]+', entry['name']) or entry['name'] in names:
            raise BenchmarkSetError(f'{where}: "name" must be unique and use only letters, '
                                    'digits, "_", "-" and "."')
        names.add(entry['name'])
        if entry['runner'] not in RUNNERS:
            raise BenchmarkSetError(f'{where}: runner must be one of {RUNNERS}')
        needed = 'command' if entry['runner'] == 'command' else 'config'
        if not entry.get(needed):
            raise BenchmarkSetError(f'{where}: runner {entry["runner"]!r} needs "{needed}"')
        _check_seeds(entry, where)
    for entry in entries:
        source = entry.get('stand_in_sam')
        if isinstance(source, str) and source not in names:
            raise BenchmarkSetError(f'{path}: entry {entry["name"]}: stand_in_sam names '
                                    f'unknown entry {source!r}')
    name = osp.splitext(osp.basename(path))[0]
    return dict(name=name, path=path, entries=entries)


def _check_seeds(entry: Dict, where: str) -> None:
    if 'seeds' not in entry:
        return
    seeds = entry['seeds']
    if entry['runner'] != 'train_test':
        raise BenchmarkSetError(f'{where}: "seeds" works with runner \'train_test\' only')
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                       for s in seeds)):
        raise BenchmarkSetError(f'{where}: "seeds" must be a non-empty list of distinct '
                                f'non-negative integers, got {seeds!r}')


def expand(text: str, *, work_root: str, work_dir: str) -> str:
    """Replace the placeholders listed in the module docstring."""
    def replace(match):
        key, other = match.group(1), match.group(2)
        if key == 'work_dir':
            return osp.join(work_root, other) if other else work_dir
        return dict(python=sys.executable, repo=REPO, work_root=work_root)[key]
    return _PLACEHOLDER.sub(replace, text)


def run_measured(argv: List[str], log_path: str) -> Dict:
    """Run ``argv`` (from the repository root), its output into ``log_path``.

    Returns:
        dict: ``seconds`` (wall clock), ``peak_rss_bytes`` (of the child and
        its descendants, from ``wait4``).
    """
    start = time.time()
    with open(log_path, 'w', encoding='utf-8') as log:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.time() - start
    if proc.returncode != 0:
        with open(log_path, encoding='utf-8', errors='replace') as log:
            tail = log.read()[-3000:]
        raise RuntimeError(f'command failed (exit {proc.returncode}): {" ".join(argv)}\n'
                           f'log: {log_path}\n{tail}')
    return dict(seconds=seconds, peak_rss_bytes=int(usage.ru_maxrss) * 1024)


def _with_options(argv: List[str], options: List[str]) -> List[str]:
    return argv + (['--cfg-options', *options] if options else [])


def load_config(config: str, options: List[str]):
    """The config with ``key=value`` options merged."""
    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(config)
    if options:
        parser = argparse.ArgumentParser()
        parser.add_argument('--cfg-options', nargs='+', action=DictAction)
        cfg.merge_from_dict(parser.parse_args(['--cfg-options', *options]).cfg_options)
    return cfg


def _gpu_peak_bytes(work_dir: str) -> Optional[int]:
    """Largest ``memory`` (MiB, CUDA runs only) in the training scalars, in bytes."""
    import glob
    peak = None
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path, encoding='utf-8') as file:
            for line in file:
                value = json.loads(line).get('memory')
                if value is not None:
                    peak = max(peak or 0, int(value * 2**20))
    return peak


def run_train_test(entry: Dict, work_dir: str, options: List[str], stand_in: bool) -> None:
    """Train and test a segmenter config (pseudo-labels); write ``final_metrics.json`` rows."""
    config = osp.join(REPO, entry['config'])
    train = run_measured(_with_options(
        [sys.executable, osp.join(REPO, 'tools', 'train.py'), config, '--work-dir', work_dir],
        options), osp.join(work_dir, 'benchmark_train.log'))
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        raise BenchmarkFileError(last, 'training wrote no last_checkpoint')
    with open(last, encoding='utf-8') as file:
        checkpoint = file.read().strip()
    run_measured(_with_options(
        [sys.executable, osp.join(REPO, 'tools', 'test.py'), config, checkpoint,
         '--work-dir', work_dir], options), osp.join(work_dir, 'benchmark_test.log'))
    gpu_peak = _gpu_peak_bytes(work_dir)
    memory_note = ('peak memory: CUDA max allocated' if gpu_peak is not None else
                   'peak memory: training process RSS (CPU)')
    rows = load_mmseg_test_metrics(work_dir, method=entry['method'],
                                   dataset=entry.get('dataset'))
    params = count_trainable_params(load_config(config, options))
    # SAM weights: the config's SAM, else those of the entry whose pseudo-labels it used.
    sam_weights, _ = sam_weights_of_config(load_config(config, options))
    for row in rows:
        row.sam_weights = sam_weights or entry.get('source_sam_weights') or NO_SAM
        row.train_time_s = train['seconds']
        row.peak_memory_bytes = gpu_peak if gpu_peak is not None else train['peak_rss_bytes']
        row.trainable_params = params
        row.stand_in_sam = stand_in
        row.notes = '; '.join(n for n in (entry.get('notes', ''), memory_note) if n)
    with open(osp.join(work_dir, FINAL_METRICS_FILE), 'w', encoding='utf-8') as file:
        json.dump([row.to_json() for row in rows], file, indent=2)


def name_dataset(work_dir: str, dataset: str) -> None:
    """Give the rows of a pipeline entry the entry's ``dataset`` (the config's
    ``dataset_name`` names the config's default data, not ``data_root=...``)."""
    path = osp.join(work_dir, FINAL_METRICS_FILE)
    with open(path, encoding='utf-8') as file:
        content = json.load(file)
    for row in content if isinstance(content, list) else [content]:
        row['dataset'] = dataset
    atomic_write_json(path, content)


def run_seeds(entry: Dict, work_root: str, work_dir: str, skip_existing: bool) -> None:
    """Train and test once per seed in ``work_dir/seed{S}``; write the mean row."""
    seeds = entry['seeds']
    seed_dirs = [osp.join(work_dir, f'seed{seed}') for seed in seeds]
    stand_in = _stand_in_flag(entry, work_root)
    entry = dict(entry, source_sam_weights=_source_sam_weights(entry, work_root))
    for seed, seed_dir in zip(seeds, seed_dirs):
        if skip_existing and osp.isfile(osp.join(seed_dir, FINAL_METRICS_FILE)):
            print(f'[benchmark] {entry["name"]} seed {seed}: done earlier, skipped')
            continue
        print(f'[benchmark] {entry["name"]} seed {seed}')
        os.makedirs(seed_dir, exist_ok=True)
        options = [expand(o, work_root=work_root, work_dir=seed_dir)
                   for o in entry.get('cfg_options', [])] + [f'randomness.seed={seed}']
        run_train_test(entry, seed_dir, options, stand_in)
    try:
        rows = mean_over_seeds([collect([d]) for d in seed_dirs], seeds)
    except SeedMismatchError as error:
        raise BenchmarkSetError(f'entry {entry["name"]}: {error}') from None
    atomic_write_json(osp.join(work_dir, FINAL_METRICS_FILE), [row.to_json() for row in rows])


def _source_sam_weights(entry: Dict, work_root: str) -> str:
    """``sam_weights`` of the entry ``stand_in_sam`` names (whose pseudo-labels
    this entry trains on), else ``''``."""
    source = entry.get('stand_in_sam')
    if not isinstance(source, str):
        return ''
    return next((row.sam_weights for row in collect([osp.join(work_root, source)])
                 if row.sam_weights), '')


def _stand_in_flag(entry: Dict, work_root: str) -> bool:
    source = entry.get('stand_in_sam', False)
    if not isinstance(source, str):
        return bool(source)
    rows = collect([osp.join(work_root, source)])
    return any(row.stand_in_sam for row in rows)


def run_set(bench: Dict, work_root: str, *, only: Optional[List[str]] = None,
            skip_existing: bool = False, dry_run: bool = False) -> List[str]:
    """Run the set's entries in order; return their work dirs."""
    selected = [e for e in bench['entries'] if not only or e['name'] in only]
    for entry in selected:
        if entry.get('config') and not osp.isfile(osp.join(REPO, entry['config'])):
            raise BenchmarkSetError(f'{bench["path"]}: entry {entry["name"]}: config not '
                                    f'found: {entry["config"]}')
    work_dirs = []
    for entry in selected:
        work_dir = osp.join(work_root, entry['name'])
        work_dirs.append(work_dir)
        if skip_existing and osp.isfile(osp.join(work_dir, FINAL_METRICS_FILE)):
            print(f'[benchmark] {entry["name"]}: {FINAL_METRICS_FILE} exists, skipped')
            continue
        options = [expand(o, work_root=work_root, work_dir=work_dir)
                   for o in entry.get('cfg_options', [])]
        runner = entry['runner']
        print(f'[benchmark] {entry["name"]}: {runner} {entry.get("config", "")} {options}'
              + (f' seeds {entry["seeds"]}' if 'seeds' in entry else ''))
        if dry_run:
            continue
        os.makedirs(work_dir, exist_ok=True)
        if runner == 'train_test' and 'seeds' in entry:
            run_seeds(entry, work_root, work_dir, skip_existing)
        elif runner == 'train_test':
            run_train_test(dict(entry, source_sam_weights=_source_sam_weights(entry, work_root)),
                           work_dir, options, _stand_in_flag(entry, work_root))
        elif runner == 'pipeline':
            run_measured(_with_options(
                [sys.executable, osp.join(REPO, 'tools', 'run_pipeline.py'),
                 osp.join(REPO, entry['config']), '--work-dir', work_dir], options),
                osp.join(work_dir, 'benchmark_pipeline.log'))
            if entry.get('dataset'):
                name_dataset(work_dir, entry['dataset'])
        else:
            run_measured([expand(a, work_root=work_root, work_dir=work_dir)
                          for a in entry['command']],
                         osp.join(work_dir, 'benchmark_command.log'))
        if not osp.isfile(osp.join(work_dir, FINAL_METRICS_FILE)):
            raise BenchmarkFileError(osp.join(work_dir, FINAL_METRICS_FILE),
                                     f'entry {entry["name"]!r} finished without writing it')
    return work_dirs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=DefaultsHelpFormatter)
    what = parser.add_mutually_exclusive_group()
    what.add_argument('--collect', nargs='+', metavar='WORK_DIR', help='work dirs to tabulate')
    what.add_argument('--run', metavar='NAME', help='benchmark set name or .py path')
    parser.add_argument('--with-published', action='store_true',
                        help='add published numbers (marked "published, not re-run")')
    parser.add_argument('--work-root', help='--run: where entries write '
                        '(default work_dirs/benchmarks/NAME)')
    parser.add_argument('--only', nargs='+', metavar='ENTRY', help='--run: these entries only')
    parser.add_argument('--skip-existing', action='store_true',
                        help='--run: skip entries whose final_metrics.json exists')
    parser.add_argument('--dry-run', action='store_true', help='--run: print, run nothing')
    parser.add_argument('--out-dir', help='report folder (default: WORK_ROOT/report or '
                        'work_dirs/benchmark_report)')
    parser.add_argument('--name', help='report file stem (default: set name or "benchmark")')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if not (args.collect or args.run or args.with_published):
        parser.error('give --collect WORK_DIR..., --run NAME or --with-published')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    name = args.name or 'benchmark'
    out_dir = args.out_dir or osp.join('work_dirs', 'benchmark_report')
    try:
        rows = []
        if args.run:
            bench = load_benchmark_set(args.run)
            work_root = args.work_root or osp.join('work_dirs', 'benchmarks', bench['name'])
            work_dirs = run_set(bench, osp.abspath(work_root), only=args.only,
                                skip_existing=args.skip_existing, dry_run=args.dry_run)
            if args.dry_run:
                return 0
            rows = collect(work_dirs)
            name = args.name or bench['name']
            out_dir = args.out_dir or osp.join(work_root, 'report')
        elif args.collect:
            rows = collect(args.collect)
        if args.with_published:
            datasets = sorted({row.dataset for row in rows}) if rows else None
            rows += published_benchmark_rows(datasets)
    except (BenchmarkFileError, BenchmarkSetError, RuntimeError) as error:
        return report_user_error(error, argv)
    if not rows:
        print('error: no rows to report (no published numbers for these datasets)',
              file=sys.stderr)
        return 2
    print(format_table(rows))
    paths = write_reports(rows, out_dir, stem=name)
    if any(row.notes for row in rows):
        print(f'Row notes (seed spread, memory kind, protocols): {paths["md"]}')
    for kind, path in paths.items():
        print(f'{kind}: {path}')
    return 0


if __name__ == '__main__':
    run_tool(main)
