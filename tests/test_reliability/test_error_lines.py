"""User errors of the tools: one ``error: <path or key>: <problem>; <fix>`` line, exit code 2,
the traceback only with ``--debug`` or ``EPSAM_DEBUG=1``."""
import subprocess
import sys

import pytest

from epsam.datasets import PatchFileError, generate_camelyon_like
from epsam.utils.cli import ToolError, run_tool
from tests.conftest import REPO_ROOT

from .conftest import tool_env

pytestmark = pytest.mark.faults

CAM_CONFIG = (REPO_ROOT / 'configs' / 'adl_cam' /
              'adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py')


def _exit_code(main, argv=()):
    with pytest.raises(SystemExit) as info:
        run_tool(main, argv=list(argv))
    return info.value.code


def _raise_bad_file():
    raise PatchFileError('a.png', 'cannot be decoded (truncated or not an image file)')


def test_user_error_is_one_line_with_exit_code_2(capsys, monkeypatch):
    monkeypatch.delenv('EPSAM_DEBUG', raising=False)
    assert _exit_code(_raise_bad_file) == 2
    err = capsys.readouterr().err
    assert err == 'error: a.png: cannot be decoded (truncated or not an image file)\n'


@pytest.mark.parametrize('how', ['flag', 'environment'])
def test_debug_shows_the_traceback_of_the_original_error(capsys, monkeypatch, how):
    def main():
        try:
            int('x')
        except ValueError as err:
            raise ToolError(f'key: bad value ({err}); give a number') from None

    monkeypatch.setenv('EPSAM_DEBUG', '1' if how == 'environment' else '0')
    assert _exit_code(main, ['--debug'] if how == 'flag' else []) == 2
    err = capsys.readouterr().err
    assert 'Traceback' in err and "int('x')" in err  # the cause, not just the re-raise
    assert err.splitlines()[-1].startswith('error: key: bad value')


def test_bugs_keep_their_traceback_and_results_give_the_exit_code(capsys):
    def bug():
        raise KeyError('not a user error')

    with pytest.raises(KeyError):
        run_tool(bug, argv=[])
    assert _exit_code(lambda: 1) == 1
    assert _exit_code(lambda: dict(result=1)) == 0
    assert _exit_code(lambda: sys.exit('plain message')) == 'plain message'


def _tool(*args, env_extra=None):
    env = tool_env()
    env.pop('EPSAM_DEBUG', None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def _one_error_line(proc):
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    return proc.stderr.strip().splitlines()[-1]


def test_tools_print_one_line_for_missing_files(tmp_path):
    missing = tmp_path / 'missing.py'
    line = _one_error_line(_tool(REPO_ROOT / 'tools' / 'test.py', missing, tmp_path / 'x.pth'))
    assert line == f'error: {missing}: config file not found; check the path'
    debug = _tool(REPO_ROOT / 'tools' / 'test.py', missing, tmp_path / 'x.pth', '--debug')
    assert debug.returncode == 2 and 'Traceback' in debug.stderr
    line = _one_error_line(_tool(REPO_ROOT / 'tools' / 'run_pipeline.py', CAM_CONFIG,
                                 '--sam-checkpoint', tmp_path / 'sam.pth'))
    assert line == (f'error: {tmp_path / "sam.pth"}: SAM checkpoint not found; check the path '
                    'given to --sam-checkpoint')


def test_dataset_converter_error_exits_2(tmp_path):
    line = _one_error_line(_tool(REPO_ROOT / 'tools' / 'dataset_converters' /
                                 'generate_synthetic_data.py', 'camelyon', '--out', tmp_path,
                                 '--positive-ratio', '2'))
    assert line.startswith('error: positive_ratio must lie in [0, 1]')


@pytest.mark.slow
def test_train_tool_on_a_split_without_positives_says_so(tmp_path):
    generate_camelyon_like(str(tmp_path), num_train=4, num_val=3, num_test=2, patch_size=32,
                           positive_ratio=0.0)
    options = [f'{loader}.dataset.data_root={tmp_path}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    line = _one_error_line(_tool(REPO_ROOT / 'tools' / 'train.py', CAM_CONFIG, '--work-dir',
                                 tmp_path / 'work', '--cfg-options', *options))
    assert line.startswith(f"error: {tmp_path / 'val' / 'image'}: no positive patch (all 3 "
                           'patches are labelled negative)'), line
