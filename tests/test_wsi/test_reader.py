import numpy as np
import pytest

from epsam.wsi import SlideReader, SlideReadError, open_slide
from epsam.wsi.synthetic import TISSUE_RGB, TUMOUR_RGB

BACKENDS = ['openslide', 'tiffslide']


@pytest.mark.parametrize('backend', BACKENDS)
def test_levels_and_metadata(slide_path, backend):
    pytest.importorskip(backend)
    with open_slide(str(slide_path), backend=backend) as reader:
        assert isinstance(reader, SlideReader)
        assert reader.level_dimensions == ((2048, 2048), (512, 512), (128, 128))
        assert reader.level_downsamples == (1.0, 4.0, 16.0)
        assert reader.mpp == pytest.approx(0.25)
        assert reader.level_mpp(2) == pytest.approx(4.0)


@pytest.mark.parametrize('backend', BACKENDS)
def test_read_region_content_and_padding(slide_path, backend):
    pytest.importorskip(backend)
    with open_slide(str(slide_path), backend=backend) as reader:
        tumour = reader.read_region(0, 600, 800, 16, 8)
        assert tumour.shape == (8, 16, 3) and tumour.dtype == np.uint8
        assert np.abs(tumour.astype(int) - TUMOUR_RGB).max() <= 6
        tissue = reader.read_region(1, 1200, 1200, 4, 4)  # level 1, level-0 origin
        assert np.abs(tissue.astype(int) - TISSUE_RGB).max() <= 6
        edge = reader.read_region(1, 1900, 1900, 100, 100)  # 475..575 > 512 at level 1
        assert edge.shape == (100, 100, 3)
        assert (edge[40:, :] == 255).all() and (edge[:, 40:] == 255).all()
        assert (edge[:30, :30] == 250).all()  # glass inside the slide
        outside = reader.read_region(0, 5000, 5000, 10, 10)
        assert (outside == 255).all()


def test_backends_agree(slide_path):
    pytest.importorskip('openslide')
    path = str(slide_path)
    with open_slide(path, 'openslide') as a, open_slide(path, 'tiffslide') as b:
        np.testing.assert_array_equal(a.read_region(1, 100, 200, 300, 200),
                                      b.read_region(1, 100, 200, 300, 200))
        assert a.thumbnail(200).shape == b.thumbnail(200).shape == (200, 200, 3)


def test_level_choice(slide_path):
    with open_slide(str(slide_path)) as reader:
        assert reader.level_for_downsample(3.9) == 0
        assert reader.level_for_downsample(4) == 1
        assert reader.level_for_downsample(100) == 2
        assert reader.level_for_mpp(1.0) == (1, 1.0)
        level, factor = reader.level_for_mpp(2.0)
        assert (level, factor) == (1, 2.0)
        with pytest.raises(SlideReadError, match='level 0 is 0.25'):
            reader.level_for_mpp(0.1)


def test_bad_level_names_file_and_levels(slide_path):
    with open_slide(str(slide_path)) as reader:
        with pytest.raises(SlideReadError, match=r'slide_a.tif: has no level 3; .*2 \(x16'):
            reader.read_region(3, 0, 0, 8, 8)
        with pytest.raises(SlideReadError, match='region size must be positive'):
            reader.read_region(0, 0, 0, 0, 8)


def test_not_a_slide(tmp_path):
    bogus = tmp_path / 'notes.svs'
    bogus.write_text('not a slide')
    with pytest.raises(SlideReadError, match='notes.svs: is not a whole-slide image'):
        open_slide(str(bogus))
    with pytest.raises(SlideReadError, match='missing.tif: does not exist'):
        open_slide(str(tmp_path / 'missing.tif'))
    with pytest.raises(ValueError, match='unknown slide backend'):
        open_slide(str(bogus), backend='bioformats')


def test_mpp_override_without_metadata(tmp_path):
    from epsam.wsi.synthetic import synthetic_slide_image, write_pyramidal_slide
    path = tmp_path / 'nompp.tif'
    write_pyramidal_slide(str(path), synthetic_slide_image((512, 512), (0, 0, 256, 256)),
                          levels=2, mpp=None)
    with open_slide(str(path), backend='tiffslide') as reader:
        with pytest.raises(SlideReadError, match='no microns-per-pixel'):
            reader.level_for_mpp(1.0)
    with open_slide(str(path), backend='tiffslide', mpp=0.5) as reader:
        assert reader.level_for_mpp(2.0) == (1, 1.0)


def test_truncated_slide_names_the_file(slide_path, tmp_path):
    """tiffslide opens lazily: a cut-off file used to raise a bare IndexError."""
    pytest.importorskip('tiffslide')
    cut = tmp_path / 'cut.svs'
    cut.write_bytes(slide_path.read_bytes()[:8])  # the header survives, the IFDs do not
    for backend in ('tiffslide', 'auto'):
        with pytest.raises(SlideReadError, match=r'cut.svs: .*tiffslide cannot read its levels '
                           r'and metadata \(IndexError.*truncated'):
            open_slide(str(cut), backend=backend)
