# The whole EP-SAM protocol on the synthetic Camelyon-layout data, CPU-sized:
# tiny ResNet-18-ADL classifier, tiny randomly initialised SAM stand-in.
#   python tools/run_pipeline.py THIS_CONFIG [--sam-checkpoint sam_vit_b_01ec64.pth]
method_name = 'EP-SAM (ADL CAM -> SAM decoder, 3 iterations)'
dataset_name = 'synthetic Camelyon (128 px)'
data_root = 'data/synthetic_camelyon'
split_prefixes = dict(
    train=dict(img_path='train/image', seg_map_path='train/mask'),
    val=dict(img_path='val/image', seg_map_path='val/mask'),
    test=dict(img_path='test/image', seg_map_path='test/mask'))
train_split = 'train'
test_split = 'test'
cam_splits = ('train', 'test')

# Step 1 (and 2: its cam_cfg gives the CAM method and the initial-mask maker).
classifier = dict(
    config='configs/adl_cam/adl-cam_r18tiny-hf_1xb16-15e_synthetic-camelyon-128x128.py')
cams = None  # None: use the classifier config's cam_cfg
# Steps 4 and 6: SAM tuning (re-trained from these weights at every iteration).
sam = dict(variant='tiny', checkpoint=None)
sam_tuning = dict(config='configs/sam_tuning/sam-decoder_tiny_1xb4-10e_pseudo-masks.py')
embedding_cache = dict(enabled=True)
# Step 5: pseudo-labels from 50 CAM-weighted points, IDS selection (tau 0.9).
pseudo_labels = dict(
    prompt=dict(type='ProbabilisticPointPrompt', num_points=50),
    selector=dict(type='IDSSelector', threshold=0.9),
    batch_size=8,
    seed=0)
iterations = 3
# Step 7: SAM prompted from the classifier's CAMs, as at inference.
evaluation = dict(
    prompt=dict(type='ProbabilisticPointPrompt', num_points=50), seed=0, num_pictures=6)
# EP-SAM selected checkpoints with ground-truth masks; epsam does not.
model_selection = dict(use_pixel_labels=False)
