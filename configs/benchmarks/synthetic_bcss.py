# Benchmark set "synthetic_bcss": EP-SAM and the CAM baselines on the
# synthetic BCSS-like data (epsam.datasets.generate_bcss_like into
# data/synthetic_bcss), CPU-sized.
#   nice -n 5 python tools/benchmark.py --run synthetic_bcss
# Entries run in order; later ones train stage-3 segmentors on the masks that
# the pipeline entry wrote (its work dir is {work_dir:epsam}). Fields: see
# tools/benchmark.py.

# Where tools/run_pipeline.py leaves the masks (its stage folders).
cam_masks = '{work_dir:epsam}/stage2_cams/train/masks'
sam_pseudo_masks = '{work_dir:epsam}/stage4_pseudo_labels_iter3/masks'
stage3 = 'configs/stage3/deeplabv3plus_r18-tiny{}_1xb8-200it_synthetic-bcss-128x128.py'
seg_map_option = 'train_dataloader.dataset.data_prefix.seg_map_path='

entries = [
    dict(name='epsam',
         method='EP-SAM (SAM prompted by CAM, 3 iterations)',
         runner='pipeline',
         config='configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3it_'
                'synthetic-bcss-128x128.py'),
    dict(name='epsam-deeplabv3plus',
         method='EP-SAM pseudo-labels -> DeepLabV3+ (tiny)',
         runner='train_test',
         config=stage3.format(''),
         dataset='synthetic BCSS',
         cfg_options=[seg_map_option + sam_pseudo_masks],
         stand_in_sam='epsam'),
    dict(name='cam-deeplabv3plus',
         method='CAM pseudo-labels -> DeepLabV3+ (tiny)',
         runner='train_test',
         config=stage3.format('_cam-pseudo'),
         dataset='synthetic BCSS',
         cfg_options=[seg_map_option + cam_masks]),
    dict(name='mlps-deeplabv3plus',
         method='CAM pseudo-labels -> DeepLabV3+ multi-layer supervision (tiny)',
         runner='train_test',
         config=stage3.format('-mlps_gradcam-pseudo'),
         dataset='synthetic BCSS',
         cfg_options=[seg_map_option + cam_masks],
         notes='trained on the plain-CAM masks of the epsam entry'),
]
