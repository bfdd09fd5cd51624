default_scope = 'epsam'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # tools/train.py switches to gloo when no GPU is present.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
# alpha 0.5: the tissue stays visible under the overlays of tools/test.py --show-dir
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer',
                  alpha=0.5)
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
# Plain-typed checkpoints (load with torch.load(weights_only=True)), per-epoch
# reseeding (a resumed run reproduces an uninterrupted one), and a stop at the
# first NaN/inf loss (no checkpoint is saved after it).
custom_hooks = [
    dict(type='WeightsOnlyCheckpointHook'),
    dict(type='ReseedHook', per='epoch'),
    dict(type='NaNGuardHook'),
]
