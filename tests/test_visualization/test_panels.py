"""Picture-grid pieces: prompts drawn, colour bar and word-wrapped footer."""
import numpy as np

from epsam.visualization.panels import TITLE_HEIGHT, draw_prompts, panel_grid


def test_boxes_and_points_are_drawn_in_their_colours():
    image = np.zeros((32, 32, 3), np.uint8)
    out = draw_prompts(image, np.array([[5.0, 5.0]]), np.array([1]),
                       np.array([[10.0, 12.0, 20.0, 25.0]]))
    assert tuple(out[12, 15]) == (255, 140, 0)  # the box's top edge, orange
    assert tuple(out[5, 5]) == (255, 230, 0)  # the positive point, yellow
    assert not out[18, 15].any()  # inside the box: untouched
    assert not image.any()  # the input is not modified


def test_grid_has_a_colour_bar_and_wraps_its_footer_at_words():
    tile = np.full((20, 20, 3), 128, np.uint8)
    rows = [[('image', tile), ('missing', None)]] * 2
    plain = panel_grid(rows, tile_size=(20, 20))
    assert plain.shape == (2 * (20 + TITLE_HEIGHT), 40, 3)
    footer = 'word ' * 30
    full = panel_grid(rows, footer=footer, tile_size=(20, 20), colour_bar='CAM')
    wrapped_lines = (full.shape[0] - plain.shape[0] - (TITLE_HEIGHT + 12)) // TITLE_HEIGHT
    assert wrapped_lines >= 2
    bar = full[plain.shape[0] + TITLE_HEIGHT:plain.shape[0] + TITLE_HEIGHT + 10]
    assert bar[:, :, 0].max() > 100 and bar[:, :, 2].max() > 100  # red and blue ends
