# The multi-class protocol on BCSS-WSSS (224 px): TUM, STR, LYM, NEC; background = mask index 4
# (real folder layout under data/BCSS-WSSS; see docs/benchmarks_multiclass.md).
# ResNet-50-ADL multi-label classifier, per-class CAMs -> class maps,
# class-agnostic SAM ViT-B decoder tuning, per-class pseudo-labels merged into
# class maps, 3 iterations, both WSSS protocols on the test split.
#   python tools/run_pipeline.py THIS_CONFIG --sam-checkpoint sam_vit_b_01ec64.pth --device cuda
# Without --sam-checkpoint SAM is a random ViT-B stand-in and every output says so.
task = 'multiclass'
method_name = 'EP-SAM multi-class (ADL CAM -> per-class SAM ViT-B decoder, 3 iterations)'
dataset_name = 'BCSS-WSSS'
cam_name = 'CAM'
data_root = 'data/BCSS-WSSS'
split_prefixes = dict(
    train=dict(img_path='training'),
    val=dict(img_path='val/img', seg_map_path='val/mask'),
    test=dict(img_path='test/img', seg_map_path='test/mask'))
train_split = 'train'
test_split = 'test'
cam_splits = ('train', 'test')
# Test image labels: the classifier's predictions; 'mask' gives oracle labels.
split_labels = dict(train='filename', test='prediction')
classifier = dict(config='configs/adl_cam/adl-cam_r50-hf_1xb16-50e_bcss-wsss-224x224.py')
cams = None
use_sam = True
sam = dict(variant='vit_b', checkpoint=None)
sam_tuning = dict(config='configs/sam_tuning/sam-decoder_vit-b_1xb4-20e_pseudo-masks.py')
embedding_cache = dict(enabled=True)
pseudo_labels = dict(
    prompt=dict(type='ProbabilisticPointPrompt', num_points=50),
    selector=dict(type='IDSSelector', threshold=0.9),
    batch_size=8,
    seed=0)
class_merge = dict(resolve='cam', min_confidence=0.2, min_sam_score=None, white_threshold=230)
iterations = 3
evaluation = dict(prompt=dict(type='ProbabilisticPointPrompt', num_points=50), seed=0,
                  batch_size=8)
model_selection = dict(use_pixel_labels=False)
