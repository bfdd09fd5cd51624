import pytest
import torch

import epsam  # noqa: F401
from epsam.models.sam import SamInputTransform, build_sam


@pytest.mark.parametrize('img_size', [1024, 256])
def test_centre_of_512_patch_lands_at_centre_of_frame(img_size):
    transform = SamInputTransform(img_size)
    # pixel-index convention: the centre of a 512 px patch is index 255.5
    centre = transform.apply_coords(torch.tensor([[255.5, 255.5]]), (512, 512))
    assert centre.tolist() == [[img_size / 2 - 0.5, img_size / 2 - 0.5]]
    # the first and last pixels map to the first and last pixel blocks' centres
    corners = transform.apply_coords(torch.tensor([[0.0, 511.0]]), (512, 512))
    scale = img_size / 512
    assert corners.tolist() == [[(scale - 1) / 2, img_size - 1 - (scale - 1) / 2]]
    box = transform.apply_boxes(torch.tensor([0.0, 0.0, 511.0, 511.0]), (512, 512))
    assert box.tolist() == [0.0, 0.0, img_size - 1.0, img_size - 1.0]


def test_non_square_coordinates_keep_x_and_y_apart():
    transform = SamInputTransform(1024)
    assert transform.input_size((256, 512)) == (512, 1024)
    points = transform.apply_coords(torch.tensor([[511.5, 127.5]]), (256, 512))
    assert points.tolist() == [[1023.5, 255.5]]


def test_agrees_with_the_prompt_package_mapping():
    sam_frame = pytest.importorskip('epsam.prompts.sam_frame')
    transform = SamInputTransform(1024)
    points = torch.tensor([[3.0, 200.0], [499.0, 17.5]])
    boxes = torch.tensor([[10.0, 20.0, 300.0, 400.0]])
    expected_points = sam_frame.map_points_to_sam(points.numpy(), (512, 384), 1024)
    expected_boxes = sam_frame.map_boxes_to_sam(boxes.numpy(), (512, 384), 1024)
    assert torch.allclose(transform.apply_coords(points, (512, 384)).double(),
                          torch.from_numpy(expected_points), atol=1e-4)
    assert torch.allclose(transform.apply_boxes(boxes, (512, 384)).double(),
                          torch.from_numpy(expected_boxes), atol=1e-4)


def test_preprocess_resizes_normalises_and_pads():
    transform = SamInputTransform(256)
    mean = torch.tensor([123.675, 116.28, 103.53])
    images = mean.view(1, 3, 1, 1).expand(2, 3, 64, 128).clone()
    images[:, 0, :, :64] += 58.395 * 2  # left half: +2 std in channel 0
    out = transform.preprocess(images)
    assert out.shape == (2, 3, 256, 256)
    assert out[:, :, 128:].abs().max() == 0  # bottom padding
    assert torch.allclose(out[:, 1:, :128], torch.zeros(1), atol=1e-4)
    assert out[0, 0, 64, 10].item() == pytest.approx(2.0, abs=1e-4)
    assert out[0, 0, 64, 250].item() == pytest.approx(0.0, abs=1e-4)


def test_preprocess_matches_sam_preprocess_at_full_size():
    sam = build_sam('tiny')
    transform = SamInputTransform.from_sam(sam)
    image = torch.rand(3, 256, 200) * 255
    expected = sam.preprocess(image)
    assert torch.allclose(transform.preprocess(image[None])[0], expected, atol=1e-5)


def test_postprocess_inverts_the_frame():
    transform = SamInputTransform(256)
    original = (128, 64)  # H, W: resized to 256 x 128, padded on the right
    low_res = torch.full((1, 1, 64, 64), -10.0)
    low_res[..., :32, :16] = 10.0  # top-left quarter of the resized image
    masks = transform.postprocess_masks(low_res, original)
    assert masks.shape == (1, 1, 128, 64)
    positive = masks[0, 0] > 0
    assert positive[:60, :28].all() and not positive[68:, :].any()
    assert not positive[:, 36:].any()


def test_bad_shapes_are_explained():
    transform = SamInputTransform(256)
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        transform.preprocess(torch.zeros(3, 32, 32))
    with pytest.raises(ValueError, match=r'\(\.\.\., 2\)'):
        transform.apply_coords(torch.zeros(4, 3), (32, 32))
