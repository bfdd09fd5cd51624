# EP-SAM's own prompts with LiteMedSAM: 50 points drawn uniformly inside the
# target mask for tuning, 50 CAM-weighted points for pseudo-labels and
# evaluation (EP-SAM's recipe throughout), although LiteMedSAM was trained
# with boxes. The comparison row of docs/science.md.
#   python tools/run_pipeline.py THIS_CONFIG
_base_ = ['./epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py']
method_name = 'EP-SAM with LiteMedSAM, point prompts (ADL CAM -> decoder, 3 iterations)'
sam = dict(variant='lite_medsam', checkpoint=None)
sam_tuning = dict(
    config='configs/sam_tuning/sam-decoder-box_lite-medsam_1xb4-5e_pseudo-masks.py',
    train_prompt=dict(type='UniformPointPrompt', num_points=50))
