"""Fault-injection helpers: run a tool, SIGKILL it at a chosen point, check what it left.

Kill points are drawn from ``random.Random(seed)`` so every run of the suite
injects the same faults; the point is "when ``n`` output files exist" (not a
wall-clock delay, which would depend on the machine's load) plus a small
random delay, so kills also land in the middle of writes.
"""
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Sequence

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO_ROOT, USER_PROJECT

HERE = Path(__file__).resolve().parent
DRIVERS = HERE / 'drivers'
#: Suffixes of temporary files written by epsam's atomic writers.
TEMP_MARKERS = ('.tmp', '.part')


def tool_env(extra_pythonpath: Iterable = ()) -> Dict[str, str]:
    env = dict(os.environ)
    paths = [str(p) for p in extra_pythonpath] + [str(REPO_ROOT), str(USER_PROJECT), str(HERE)]
    if env.get('PYTHONPATH'):
        paths.append(env['PYTHONPATH'])
    env['PYTHONPATH'] = os.pathsep.join(paths)
    env['OMP_NUM_THREADS'] = '1'
    env['MKL_NUM_THREADS'] = '1'
    return env


def run_to_end(args: Sequence, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run ``python *args`` from the repository root; fail with its output when it fails."""
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=REPO_ROOT, env=tool_env(),
                          capture_output=True, text=True, timeout=timeout, **kwargs)
    assert proc.returncode == 0, (f'{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n'
                                  f'{proc.stderr[-3000:]}')
    return proc


def kill_when(args: Sequence, ready: Callable[[], bool], rng: random.Random,
              log_path: Path, timeout: float = 300, max_delay_s: float = 0.03) -> None:
    """Start ``python *args``; SIGKILL it once ``ready()`` holds (plus a random short delay).

    Fails when the process ends on its own before the kill point: the fault
    would not have been injected.
    """
    with open(log_path, 'ab') as log:
        proc = subprocess.Popen([sys.executable, *map(str, args)], cwd=REPO_ROOT,
                                env=tool_env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        try:
            while not ready():
                if proc.poll() is not None:
                    pytest.fail(f'{args} ended (code {proc.returncode}) before the kill point; '
                                f'see {log_path}:\n{log_path.read_text()[-3000:]}')
                if time.monotonic() > deadline:
                    pytest.fail(f'{args}: kill point not reached in {timeout} s')
                time.sleep(0.002)
            time.sleep(rng.uniform(0, max_delay_s))
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, f'{args} ended with {proc.returncode}, not killed'


def is_temp_file(name: str) -> bool:
    """A hidden temporary file of an atomic writer (``.{name}.*.tmp``, ``.tmp-*.part``)."""
    return name.startswith('.') and name.endswith(TEMP_MARKERS)


def count_files(folder: Path, suffix: str) -> int:
    """Files named ``*{suffix}`` directly in ``folder`` (temporary files excluded)."""
    try:
        return sum(1 for name in os.listdir(folder)
                   if name.endswith(suffix) and not name.startswith('.'))
    except FileNotFoundError:
        return 0


def tree_files(folder: Path, skip: Sequence[str] = ()) -> Dict[str, bytes]:
    """Relative path -> bytes of every output under ``folder``.

    Hidden temporary files of killed writers are left out, and so are paths
    holding one of the ``skip`` fragments.
    """
    out = {}
    for base, _, names in os.walk(folder):
        for name in names:
            if is_temp_file(name):
                continue
            rel = os.path.relpath(os.path.join(base, name), folder)
            if not any(part in rel for part in skip):
                out[rel] = Path(base, name).read_bytes()
    return out


def assert_same_tree(reference: Path, other: Path, skip: Sequence[str] = (),
                     normalise: Optional[Callable[[str, bytes], bytes]] = None) -> int:
    """Both folders hold the same files with the same bytes; returns the file count."""
    first, second = tree_files(reference, skip), tree_files(other, skip)
    assert sorted(first) == sorted(second), (sorted(set(first) ^ set(second))[:10])
    for rel in first:
        a, b = first[rel], second[rel]
        if normalise is not None:
            a, b = normalise(rel, a), normalise(rel, b)
        assert a == b, f'{rel} differs between {reference} and {other}'
    assert first, f'nothing to compare under {reference}'
    return len(first)


def _check_loads(path: Path) -> None:
    data = path.read_bytes()
    suffix = path.suffix
    if suffix == '.json':
        json.loads(data)
    elif suffix == '.jsonl':
        for line in data.decode().splitlines():
            json.loads(line)
    elif suffix == '.npz':
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.testzip() is None
        dict(np.load(io.BytesIO(data), allow_pickle=False))
    elif suffix == '.npy':
        np.load(io.BytesIO(data), allow_pickle=False)
    elif suffix in ('.png', '.tif'):
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    elif suffix == '.pth':
        torch.load(io.BytesIO(data), map_location='cpu', weights_only=True)
    elif suffix == '.emb':
        from epsam.models.sam.cache.embedding_entry import read_cache_entry
        read_cache_entry(path, {})


def assert_no_partial_files(folder: Path, allow_temp: bool = True,
                            suffixes: Optional[Sequence[str]] = None) -> int:
    """Every file under its final name loads completely; returns how many were checked.

    Temporary files of a killed writer (hidden, ``.tmp`` / ``.part``) are
    allowed unless ``allow_temp`` is False; they are never read as outputs.
    ``suffixes`` restricts the check to those file types.
    """
    checked = 0
    for base, _, names in os.walk(folder):
        for name in names:
            path = Path(base, name)
            if suffixes is not None and path.suffix not in suffixes:
                continue
            if is_temp_file(name):
                assert allow_temp, f'temporary file left behind: {path}'
                continue
            try:
                _check_loads(path)
            except Exception as err:  # noqa: BLE001 - any failure is a partial file
                pytest.fail(f'partial or corrupt file under its final name: {path} ({err})')
            checked += 1
    return checked


def mtimes(folder: Path, suffix: str) -> Dict[str, int]:
    """Name -> modification time (ns) of the ``*{suffix}`` files in ``folder``."""
    return {name: os.stat(folder / name).st_mtime_ns for name in os.listdir(folder)
            if name.endswith(suffix) and not name.startswith('.')} if folder.is_dir() else {}


#: Items left undone after the last kill point (see ``kill_goals``).
KILL_MARGIN = 3


def kill_targets(rng: random.Random, total: int, kills: int, margin: int = KILL_MARGIN) -> list:
    """``kills`` increasing file counts in ``1..total - margin`` at which to kill.

    The margin leaves items to do after the last kill, even when the process
    writes a few more between the poll that sees the count and the signal.
    """
    return sorted(rng.sample(range(1, total - margin + 1), kills))


def kill_goals(rng: random.Random, total: int, kills: int,
               done: Callable[[], int]) -> Iterable[int]:
    """Yield the file count at which to kill next, for up to ``kills`` kills.

    Each goal is past what is already done (so every run makes progress), and
    a kill whose goal would fall inside the last ``KILL_MARGIN`` items is
    skipped: on a fast machine the earlier kills may land late, and a run
    killed that close to its end would leave nothing to resume. The first
    kill is never skipped.
    """
    for number, target in enumerate(kill_targets(rng, total, kills)):
        goal = max(target, done() + 1)
        if number and goal > total - KILL_MARGIN:
            return
        yield goal


@pytest.fixture
def fault_rng(request) -> random.Random:
    """A fixed-seed RNG per test (seeded by the test's name)."""
    return random.Random(f'epsam-faults:{request.node.name}')


@pytest.fixture(scope='session')
def cam_tree(tmp_path_factory):
    """Images, blob CAMs and initial masks of 8 positive patches, and a tiny-SAM checkpoint."""
    import cv2

    from epsam.fileio.cam_store import save_cam, save_label_png
    from epsam.models.sam import build_sam
    root = tmp_path_factory.mktemp('cam_tree')
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    (root / 'img').mkdir()
    for i in range(8):
        img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        blob = np.clip(1 - np.hypot(yy - 16 - 4 * i, xx - 40 + 3 * i) / (10 + i), 0, 1)
        img[blob > 0] = (40, 20, 160)
        cv2.imwrite(str(root / 'img' / f'p{i}_1.png'), img)
        save_cam(str(root / 'cams' / 'cams' / f'p{i}_1.npz'), blob[None], [0.9], ['tumor'],
                 str(root / 'img' / f'p{i}_1.png'))
        save_label_png(str(root / 'cams' / 'masks' / f'p{i}_1.png'),
                       (blob > 0.2).astype(np.uint8))
    torch.manual_seed(0)
    torch.save(build_sam('tiny').state_dict(), root / 'sam.pth')
    return root
