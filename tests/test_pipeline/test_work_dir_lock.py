"""One run per work dir: ``.epsam.lock`` refuses a second run and is taken over when stale."""
import importlib.util
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from epsam.datasets.synthetic import generate_camelyon_like
from epsam.pipeline import EPSAMPipeline
from epsam.utils.work_dir_lock import LOCK_FILE, WorkDirBusyError, WorkDirLock
from tests.conftest import REPO_ROOT

from .test_config_check import config, run_tool


def finished_pid() -> int:
    """The pid of a subprocess that has ended (and been reaped)."""
    proc = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_a_held_lock_refuses_a_second_acquisition(tmp_path):
    with WorkDirLock(str(tmp_path)) as lock:
        owner = json.loads((tmp_path / LOCK_FILE).read_text())
        assert owner['pid'] == os.getpid() and owner['host'] == socket.gethostname()
        with pytest.raises(WorkDirBusyError) as info:
            WorkDirLock(str(tmp_path)).acquire()
        assert str(info.value) == (
            f"{tmp_path} is in use by pid {os.getpid()} on host {socket.gethostname()} since "
            f"{owner['started']}; wait for it or delete {tmp_path / LOCK_FILE} if that process "
            'is gone')
        with pytest.raises(WorkDirBusyError):
            lock.acquire()  # not re-entrant
    assert not (tmp_path / LOCK_FILE).exists()
    WorkDirLock(str(tmp_path)).acquire().release()  # free again


def test_the_lock_is_released_on_an_exception(tmp_path):
    with pytest.raises(KeyError):
        with WorkDirLock(str(tmp_path)):
            raise KeyError('boom')
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_stale_lock_is_taken_over_with_one_warning(tmp_path):
    dead = finished_pid()
    (tmp_path / LOCK_FILE).write_text(json.dumps(
        dict(pid=dead, host=socket.gethostname(), started='2020-01-01 00:00:00')))
    warnings = []
    with WorkDirLock(str(tmp_path), warn=warnings.append):
        assert json.loads((tmp_path / LOCK_FILE).read_text())['pid'] == os.getpid()
    assert warnings == [f'{tmp_path / LOCK_FILE}: stale lock of pid {dead} (no longer running '
                        'on this host, since 2020-01-01 00:00:00); taken over']
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_lock_of_another_host_or_unreadable_is_never_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(json.dumps(
        dict(pid=finished_pid(), host='elsewhere', started='2020-01-01 00:00:00')))
    with pytest.raises(WorkDirBusyError, match='on host elsewhere since 2020-01-01'):
        WorkDirLock(str(tmp_path)).acquire()
    (tmp_path / LOCK_FILE).write_text('{half')
    with pytest.raises(WorkDirBusyError, match='another run .its lock file cannot be read.'):
        WorkDirLock(str(tmp_path)).acquire()


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    generate_camelyon_like(str(root), num_train=4, num_val=2, num_test=2, patch_size=32, seed=1)
    return root


def test_a_second_pipeline_run_into_a_busy_work_dir_is_refused(tmp_path, data_root):
    """The first run (another process) holds the lock; the second does nothing."""
    work = tmp_path / 'work'
    holder = subprocess.Popen(
        [sys.executable, '-c',
         'import importlib.util, sys, time\n'
         'spec = importlib.util.spec_from_file_location("lock", sys.argv[1])\n'
         'module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n'
         'with module.WorkDirLock(sys.argv[2]):\n'
         '    print("locked", flush=True); time.sleep(120)\n',
         str(REPO_ROOT / 'epsam' / 'utils' / 'work_dir_lock.py'), str(work)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'locked'
        message = run_tool(work, data_root)
        assert message.startswith(f'error: {work} is in use by pid {holder.pid} on host '
                                  f'{socket.gethostname()} since ')
        assert message.endswith(f'wait for it or delete {work / LOCK_FILE} if that process '
                                'is gone')
        with pytest.raises(WorkDirBusyError):
            EPSAMPipeline(config(data_root), str(work)).run()
        assert sorted(os.listdir(work)) == [LOCK_FILE, 'pipeline.log']
    finally:
        holder.kill()  # SIGKILL: its lock stays behind, stale
        holder.wait()
    warnings = []
    with WorkDirLock(str(work), warn=warnings.append):
        pass
    assert len(warnings) == 1 and f'stale lock of pid {holder.pid}' in warnings[0]


def test_generate_cams_refuses_a_busy_output_folder(tmp_path):
    spec = importlib.util.spec_from_file_location('generate_cams_tool',
                                                  REPO_ROOT / 'tools' / 'generate_cams.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    checkpoint = tmp_path / 'any.pth'
    torch.save({}, checkpoint)
    config_file = (REPO_ROOT / 'configs' / 'adl_cam' /
                   'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py')
    out = tmp_path / 'cams'
    with WorkDirLock(str(out)):
        with pytest.raises(SystemExit, match=f'^error: {out} is in use by pid {os.getpid()}'):
            tool.main([str(config_file), str(checkpoint), '--out', str(out), '--device', 'cpu'])
    assert os.listdir(out) == []
