"""Shared fixtures: repository paths and a runner for the command-line tools."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
USER_PROJECT = REPO_ROOT / 'tests' / 'data' / 'user_project'

torch.set_num_threads(1)


def run_tool(args, *, extra_pythonpath=(), timeout=600, check=True, env=None):
    """Run a repository tool in a fresh interpreter; return the CompletedProcess."""
    full_env = dict(os.environ if env is None else env)
    paths = [str(p) for p in extra_pythonpath] + [str(REPO_ROOT)]
    if full_env.get('PYTHONPATH'):
        paths.append(full_env['PYTHONPATH'])
    full_env['PYTHONPATH'] = os.pathsep.join(paths)
    full_env.setdefault('OMP_NUM_THREADS', '1')
    proc = subprocess.run(
        [sys.executable, *map(str, args)], cwd=REPO_ROOT, env=full_env,
        capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f'{args} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}'
            f'\n--- stderr\n{proc.stderr[-4000:]}')
    return proc


@pytest.fixture
def tool_runner():
    return run_tool
