# A tiny ResNet-18-ADL classifier for 64-128 px synthetic patches on CPU
# (tests, the demo). Same structure as adl_resnet50_cam.py at 1/4 width;
# ResNet-18's layer4 has 2 blocks, so the last ADL sits after block 1.
data_preprocessor = dict(
    type='CAMDataPreprocessor',
    mean=None,
    std=None,
    bgr_to_rgb=True,
    high_frequency=dict(square_size=2))
model = dict(
    type='CAMClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetADL',
        depth=18,
        in_channels=4,
        stem_channels=16,
        base_channels=16,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(3, ),
        adl_positions=((3, 0), (4, 0), (4, 1)),
        adl_cfg=dict(drop_rate=0.75, gamma=0.8),
        norm_cfg=dict(type='BN', requires_grad=True)),
    head=dict(type='CAMHead', in_channels=128, num_classes=1),
    cam_layer='layer4.0',
    with_cam_in_predict=True)
