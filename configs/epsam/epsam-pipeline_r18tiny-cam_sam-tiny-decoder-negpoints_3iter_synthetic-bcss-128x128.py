# The multi-class protocol on the synthetic BCSS-WSSS-like data with negative
# points added to every class prompt: 10 points where the class is confidently
# absent, besides the positive points. Tuning draws them outside the class's
# target (never on undecided pixels); pseudo-labelling and evaluation draw
# them where that class's CAM is below 0.1, outside its initial region.
# Everything else as in the decoder-only config.
#   python tools/run_pipeline.py THIS_CONFIG
_base_ = ['./epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-bcss-128x128.py']
method_name = 'EP-SAM multi-class, positive + negative point prompts (3 iterations)'
sam_tuning = dict(cfg_options={'train_dataloader.dataset.pipeline': [
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=False),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.75),
    dict(type='GenerateMaskPrompts', generator=dict(type='CombinedPrompt', generators=[
        dict(type='UniformPointPrompt', num_points=50),
        dict(type='NegativePointPrompt', num_points=10, cam_threshold=0.5)])),
    dict(type='PackSamInputs'),
]})
class_prompt = dict(type='CombinedPrompt', generators=[
    dict(type='ProbabilisticPointPrompt', num_points=50),
    dict(type='NegativePointPrompt', num_points=10, cam_threshold=0.1)])
pseudo_labels = dict(prompt=dict(_delete_=True, **class_prompt))
evaluation = dict(prompt=dict(_delete_=True, **class_prompt))
