# The CPU-sized EP-SAM pipeline, smaller still for fault tests: 2 classifier
# epochs (a checkpoint each), 2 SAM tuning epochs, one pseudo-label iteration
# whose selector keeps every mask (so every stage has work). Set data_root with
# --cfg-options.
_base_ = ['../../../configs/epsam/'
          'epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_synthetic-camelyon-128x128.py']
classifier = dict(cfg_options={'train_cfg.max_epochs': 2, 'train_cfg.val_interval': 2,
                               'default_hooks.checkpoint.interval': 1})
sam_tuning = dict(cfg_options={'train_cfg.max_epochs': 2, 'param_scheduler.0.T_max': 2})
pseudo_labels = dict(selector=dict(type='IDSSelector', threshold=0.0))
iterations = 1
evaluation = dict(num_pictures=1)
