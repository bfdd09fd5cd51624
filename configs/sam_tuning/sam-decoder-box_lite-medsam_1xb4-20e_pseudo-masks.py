# EP-SAM step 4/6 on Camelyon16 with LiteMedSAM: decoder-only tuning, 20
# epochs (EP-SAM's schedule), one box per connected component of the target
# mask as the training prompt (LiteMedSAM was trained with boxes), EP-SAM's
# flips and rotations. The pipeline fills in the image and mask folders.
_base_ = [
    '../_base_/models/sam_tuning_decoder_only.py', '../_base_/datasets/sam_masks.py',
    '../_base_/schedules/schedule_20e_adamw_cosine.py', '../_base_/default_runtime.py'
]
box_prompt = dict(type='ComponentBoxPrompt', min_area=256)
model = dict(sam=dict(variant='lite_medsam', checkpoint=None))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=False),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='RandomRotate90', prob=0.75),
    dict(type='GenerateMaskPrompts', generator=box_prompt),
    dict(type='PackSamInputs'),
]))
test_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadPatchImage'),
    dict(type='LoadPatchAnnotations', binary=True),
    dict(type='LoadCamPrompts', cam_dir=None, missing_mask='empty', generator=box_prompt),
    dict(type='PackSamInputs'),
]))
