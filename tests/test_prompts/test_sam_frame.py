"""Mapping prompts into SAM's input frame (the step EP-SAM's reference code skipped)."""
import numpy as np
import pytest
import torch
from segment_anything.modeling import PromptEncoder
from segment_anything.utils.transforms import ResizeLongestSide

from epsam.prompts import (Prompts, map_boxes_to_sam, map_mask_input_to_sam, map_points_to_sam,
                           sam_input_size)


def test_centre_of_512_patch_lands_at_centre_of_1024_frame():
    # Pixel-index convention: the centre of a 512 px patch is 255.5 (the corner
    # shared by pixels 255 and 256); the centre of the 1024 frame is 511.5.
    mapped = map_points_to_sam(np.array([[255.5, 255.5]]), (512, 512), 1024)
    np.testing.assert_allclose(mapped, [[511.5, 511.5]])
    # Pixel centres land at the centres of the 2x2 blocks they become.
    corners = map_points_to_sam(np.array([[0, 0], [511, 511], [256, 100]]), (512, 512), 1024)
    np.testing.assert_allclose(corners, [[0.5, 0.5], [1022.5, 1022.5], [512.5, 200.5]])


def test_centre_of_non_square_image_maps_into_resized_content():
    # 300 x 500 (H x W): SAM resizes to 614 x 1024 and pads the bottom.
    assert sam_input_size((300, 500), 1024) == (614, 1024)
    mapped = map_points_to_sam(np.array([[249.5, 149.5]]), (300, 500), 1024)
    np.testing.assert_allclose(mapped, [[511.5, 306.5]])  # centre of the 614 x 1024 content


def test_mapped_point_lands_on_the_resized_pixels():
    # Independent check against SAM's own image resize: a bright block's
    # centre, mapped, is the centroid of the same block in the resized image.
    image = np.zeros((300, 500, 3), dtype=np.uint8)
    image[100:110, 200:210] = 255
    resized = ResizeLongestSide(1024).apply_image(image)[..., 0].astype(np.float64)
    rows, cols = np.nonzero(resized > 0)
    weights = resized[rows, cols]
    centroid = [np.average(cols, weights=weights), np.average(rows, weights=weights)]
    mapped = map_points_to_sam(np.array([[204.5, 104.5]]), (300, 500), 1024)[0]
    np.testing.assert_allclose(mapped, centroid, atol=0.5)


def test_boxes_keep_covering_their_pixels():
    full = map_boxes_to_sam(np.array([[0, 0, 511, 511]]), (512, 512), 1024)
    np.testing.assert_allclose(full, [[0, 0, 1023, 1023]])
    full = map_boxes_to_sam(np.array([[0, 0, 499, 299]]), (300, 500), 1024)
    np.testing.assert_allclose(full, [[0, 0, 1023, 613]])
    inner = map_boxes_to_sam(np.array([[30, 10, 49, 19]]), (64, 64), 1024)
    np.testing.assert_allclose(inner, [[480, 160, 799, 319]])


def test_mask_input_resized_and_padded_like_sam():
    square = np.zeros((1, 512, 512), np.float32)
    square[:, :, 256:] = 5.0
    out = map_mask_input_to_sam(square, 1024)
    assert out.shape == (1, 256, 256) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, :127], 0.0)
    np.testing.assert_allclose(out[0, :, 129:], 5.0)

    wide = np.full((1, 300, 500), 3.0, np.float32)
    out = map_mask_input_to_sam(wide, 1024, pad_value=-7.0)
    content_h, content_w = ResizeLongestSide.get_preprocess_shape(300, 500, 256)
    assert (content_h, content_w) == (154, 256)
    np.testing.assert_allclose(out[0, :content_h], 3.0, rtol=1e-6)
    np.testing.assert_allclose(out[0, content_h:], -7.0)


def test_prompts_to_sam_frame_feeds_sam_prompt_encoder():
    img_size = 256  # small SAM: 16 x 16 embedding grid, 64 x 64 mask input
    prompts = Prompts(image_size=(40, 60), point_coords=[[10, 5], [59, 39]],
                      point_labels=[1, 0], boxes=[[0, 0, 59, 39], [10, 10, 20, 20]],
                      mask_input=np.zeros((1, 40, 60), np.float32))
    mapped = prompts.to_sam_frame(img_size)
    assert mapped.image_size == (img_size, img_size)
    assert mapped.mask_input.shape == (1, 64, 64)
    np.testing.assert_array_equal(mapped.point_labels, prompts.point_labels)
    assert sam_input_size((40, 60), img_size) == (171, 256)
    np.testing.assert_allclose(mapped.boxes[0], [0, 0, 255, 170])  # the whole 171 x 256 content

    encoder = PromptEncoder(embed_dim=8, image_embedding_size=(16, 16),
                            input_image_size=(img_size, img_size), mask_in_chans=4)
    inputs = mapped.to_sam_inputs()
    assert inputs['point_coords'].shape == (2, 2, 2)
    with torch.no_grad():
        sparse, dense = encoder(points=(inputs['point_coords'], inputs['point_labels']),
                                boxes=inputs['boxes'], masks=inputs['mask_inputs'])
    assert sparse.shape == (2, 2 + 2, 8)  # 2 points + 2 box corners per box
    assert dense.shape == (2, 8, 16, 16)


def test_mapping_in_sam_frame_is_identity():
    prompts = Prompts(image_size=(1024, 1024), point_coords=[[3.0, 7.0]], point_labels=[1],
                      boxes=[[1, 2, 3, 4]], mask_input=np.ones((1, 256, 256)))
    again = prompts.to_sam_frame(1024)
    np.testing.assert_allclose(again.point_coords, prompts.point_coords)
    np.testing.assert_allclose(again.boxes, prompts.boxes)
    np.testing.assert_allclose(again.mask_input, prompts.mask_input)


@pytest.mark.parametrize('img_size', [0, 1000, 512.0, True])
def test_bad_img_size_is_rejected(img_size):
    with pytest.raises(ValueError, match='img_size'):
        map_points_to_sam(np.zeros((1, 2)), (8, 8), img_size)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match='points'):
        map_points_to_sam(np.zeros((3, 3)), (8, 8), 1024)
    with pytest.raises(ValueError, match='boxes'):
        map_boxes_to_sam(np.zeros((4,)), (8, 8), 1024)
    with pytest.raises(ValueError, match='mask_input'):
        map_mask_input_to_sam(np.zeros((8, 8)), 1024)
    with pytest.raises(ValueError, match='image_size'):
        map_points_to_sam(np.zeros((1, 2)), (0, 8), 1024)
