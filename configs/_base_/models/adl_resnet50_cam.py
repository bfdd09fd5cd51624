# EP-SAM's patch classifier: ResNet-50 with ADL after layer3 block 0 and
# layer4 blocks 0 and 2, layer4 at stride 1 (512 px -> 32x32 features),
# RGB + high-frequency input (4 channels), GAP + linear head with one logit
# per class (binary Camelyon: num_classes=1), plain CAM from layer4 block 0.
# For ImageNet weights set
#   model.backbone.pretrained_checkpoint=/path/to/resnet50.pth
# (a local torchvision/mmseg checkpoint; conv1's 4th input filter becomes
# the mean of the RGB filters).
data_preprocessor = dict(
    type='CAMDataPreprocessor',
    mean=None,  # EP-SAM feeds [0, 1] inputs; IMAGENET_MEAN/STD are available
    std=None,
    bgr_to_rgb=True,
    high_frequency=dict(square_size=2))
model = dict(
    type='CAMClassifier',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='ResNetADL',
        depth=50,
        in_channels=4,
        strides=(1, 2, 2, 1),
        dilations=(1, 1, 1, 1),
        out_indices=(3, ),
        adl_positions=((3, 0), (4, 0), (4, 2)),
        adl_cfg=dict(drop_rate=0.75, gamma=0.8),
        norm_cfg=dict(type='BN', requires_grad=True),
        pretrained_checkpoint=None),
    head=dict(type='CAMHead', in_channels=2048, num_classes=1),
    cam_layer='layer4.0',
    with_cam_in_predict=True)
