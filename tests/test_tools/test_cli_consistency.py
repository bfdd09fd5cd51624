"""Every user tool speaks one CLI: defaults in --help, one launcher set, one --device, --debug."""
import importlib.util
import re

import pytest

from epsam.engine.config_utils import LAUNCHERS
from tests.conftest import REPO_ROOT

TOOLS = ['tools/train.py', 'tools/test.py', 'tools/run_pipeline.py', 'tools/demo.py',
         'tools/generate_cams.py', 'tools/benchmark.py', 'tools/wsi/infer.py',
         'tools/wsi/extract_patches.py', 'tools/dataset_converters/generate_synthetic_data.py',
         'tools/dataset_converters/generate_real_he_data.py']


def tool_help(path: str, capsys) -> str:
    spec = importlib.util.spec_from_file_location(f'cli_{path.replace("/", "_")}',
                                                  REPO_ROOT / path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as stop:
        module.parse_args(['--help'])
    assert stop.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize('path', TOOLS)
def test_tool_help_shows_defaults_launchers_devices_and_debug(path, capsys):
    text = ' '.join(tool_help(path, capsys).split())  # unwrap argparse's lines
    assert '--debug' in text
    if '--launcher' in text:
        assert f"--launcher {{{','.join(LAUNCHERS)}}}" in text
    if '--device' in text:
        assert '--device DEVICE cpu, cuda or cuda:N (default: the local GPU when there is ' \
               'one, else cpu)' in text
    # an option with a number default says it, once
    for match in re.finditer(r'--[a-z-]+ [A-Z_]+ [^-]*?\(default: [^)]*\)', text):
        assert match.group(0).count('(default') == 1, match.group(0)
    assert '(default: None)' not in text and '(default: False)' not in text


def test_numeric_defaults_are_shown(capsys):
    text = ' '.join(tool_help('tools/dataset_converters/generate_synthetic_data.py',
                              capsys).split())
    assert '--num-train NUM_TRAIN training patches (default: 160)' in text
    text = ' '.join(tool_help('tools/wsi/infer.py', capsys).split())
    assert '(default: 10000.0)' in text  # --min-area in um^2
