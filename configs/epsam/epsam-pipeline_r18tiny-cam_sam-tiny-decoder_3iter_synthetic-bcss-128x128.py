# The multi-class protocol on the synthetic BCSS-WSSS-like data (TUM, STR,
# LYM, NEC + background 4), CPU-sized: tiny ResNet-18-ADL multi-label
# classifier, per-class CAMs -> class maps, class-agnostic tuning of a tiny,
# randomly initialised SAM stand-in's decoder, per-class pseudo-labels merged
# into class maps, 3 iterations, both WSSS protocols on the test split.
#   python tools/dataset_converters/generate_synthetic_data.py bcss --out data/synthetic_bcss
#   python tools/run_pipeline.py THIS_CONFIG [--sam-checkpoint sam_vit_b_01ec64.pth \
#       --cfg-options sam.variant=vit_b]
task = 'multiclass'
method_name = 'EP-SAM multi-class (CAM -> per-class SAM decoder, 3 iterations)'
dataset_name = 'synthetic BCSS'
cam_name = 'CAM'
data_root = 'data/synthetic_bcss'
split_prefixes = dict(
    train=dict(img_path='training'),
    val=dict(img_path='val/img', seg_map_path='val/mask'),
    test=dict(img_path='test/img', seg_map_path='test/mask'))
train_split = 'train'
test_split = 'test'
cam_splits = ('train', 'test')
# Image labels per split: 'filename' (weak labels in the names), 'mask'
# (from ground-truth masks: oracle labels) or 'prediction' (classifier
# scores >= 0.5). The test split uses no label of its own.
split_labels = dict(train='filename', test='prediction')

# Step 1 (and 2: the classifier config's cam_cfg gives the CAM method and
# MultiClassMaskMaker). classifier.checkpoint=PATH reuses a trained classifier.
classifier = dict(
    config='configs/adl_cam/adl-cam_r18tiny-hf_1xb16-15e_synthetic-bcss-128x128.py')
cams = None
# Steps 3-4: class-agnostic SAM tuning, each (image, class) pair one binary
# target; use_sam=False stops after the CAM class maps (CAM baselines).
use_sam = True
sam = dict(variant='tiny', checkpoint=None)
sam_tuning = dict(
    config='configs/sam_tuning/sam-decoder_tiny_1xb4-10e_pseudo-masks.py',
    cfg_options={'train_cfg.max_epochs': 5, 'param_scheduler.0.T_max': 5})
embedding_cache = dict(enabled=True)
# Step 5: per class in the image label, 50 CAM-weighted points inside that
# class's initial region, IDS selection against that region (tau 0.9).
pseudo_labels = dict(
    prompt=dict(type='ProbabilisticPointPrompt', num_points=50),
    selector=dict(type='IDSSelector', threshold=0.9),
    batch_size=8,
    seed=0)
# Merging the kept class masks: overlaps by CAM ('cam') or SAM score ('sam');
# uncovered pixels are background where every present CAM < min_confidence,
# else 255 (ignored); glass (all channels > white_threshold) is background.
class_merge = dict(resolve='cam', min_confidence=0.2, min_sam_score=None, white_threshold=230)
iterations = 3
# Evaluation: SAM prompted per predicted class from the CAMs (no selection).
evaluation = dict(prompt=dict(type='ProbabilisticPointPrompt', num_points=50), seed=0,
                  batch_size=8)
model_selection = dict(use_pixel_labels=False)
