# The EP-SAM protocol on the synthetic Camelyon-layout data with SAM-Adapter as
# the SAM tuning step (instead of decoder-only tuning); everything else as in
# the decoder-only config. Pseudo-labelling and evaluation use the adapter.
#   python tools/run_pipeline.py THIS_CONFIG
_base_ = ['./epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py']
method_name = 'EP-SAM, SAM + SAM-Adapter (3 iterations)'
sam_tuning = dict(config='configs/sam_tuning/sam-samadapter_tiny_1xb4-10e_pseudo-masks.py')
