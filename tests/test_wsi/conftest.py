"""Synthetic slides for the whole-slide tests: 2048 px square, 3 levels (x1, x4, x16).

Tissue (pink) covers x 256..1536, y 256..1792; tumour (purple) x 512..1024,
y 768..1024 inside it; the rest is white glass.
"""
import importlib.util

import pytest

from epsam.wsi.synthetic import (box_polygon, synthetic_slide_image, write_asap_xml,
                                 write_pyramidal_slide, write_qupath_geojson)

SIZE = 2048
TISSUE_BOX = (256, 256, 1280, 1536)
TUMOUR_BOX = (512, 768, 512, 256)


def require_slide_packages():
    """Skip the test unless tifffile and a slide backend are installed."""
    pytest.importorskip('tifffile')
    if not any(importlib.util.find_spec(name) for name in ('openslide', 'tiffslide')):
        pytest.skip('no slide backend: pip install openslide-python openslide-bin tiffslide')


@pytest.fixture(scope='session')
def slide_path(tmp_path_factory):
    require_slide_packages()
    path = tmp_path_factory.mktemp('slides') / 'slide_a.tif'
    write_pyramidal_slide(str(path), synthetic_slide_image((SIZE, SIZE), TISSUE_BOX, TUMOUR_BOX))
    return path


@pytest.fixture(scope='session')
def blank_slide_path(tmp_path_factory):
    require_slide_packages()
    path = tmp_path_factory.mktemp('slides') / 'blank.tif'
    write_pyramidal_slide(str(path), synthetic_slide_image((1024, 1024), None), levels=2)
    return path


@pytest.fixture(scope='session')
def xml_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('annotations') / 'slide_a.xml'
    write_asap_xml(str(path), [box_polygon(TUMOUR_BOX)])
    return path


@pytest.fixture(scope='session')
def geojson_path(tmp_path_factory):
    path = tmp_path_factory.mktemp('annotations') / 'slide_a.geojson'
    write_qupath_geojson(str(path), [[box_polygon(TUMOUR_BOX)]])
    return path


def load_tool(relative_path):
    """Import a repository tool as a module (its ``main(argv)`` runs in-process)."""
    import importlib.util

    from tests.conftest import REPO_ROOT
    path = REPO_ROOT / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
