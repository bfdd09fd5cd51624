# Benchmark set "synthetic_bcss": the multi-class protocol and its baselines
# on the synthetic BCSS-like data, CPU-sized (tiny models, 96 train / 24 test
# patches at 128 px). One command (docs/benchmarks_multiclass.md):
#   python tools/dataset_converters/generate_synthetic_data.py bcss \
#       --out data/synthetic_bcss_bench --num-train 96 --num-val 8 --num-test 24 && \
#   nice -n 5 python tools/benchmark.py --run synthetic_bcss
# Entries run in order; later ones train segmenters on the masks the
# pipeline entries wrote ({work_dir:NAME} is entry NAME's work dir). SAM is a
# randomly initialised tiny stand-in: its rows say so. Fields: tools/benchmark.py.

data_root = 'data/synthetic_bcss_bench'
pipeline_data = ['data_root=' + data_root]
# The segmenter configs read data/synthetic_bcss; point every loader here.
segmenter_data = [f'{loader}.dataset.data_root={data_root}'
                  for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
# Where tools/run_pipeline.py leaves the masks (its stage folders).
cam_masks = '{work_dir:epsam}/step2_cams/train/masks'
gradcam_masks = '{work_dir:gradcam}/step2_cams/train/masks'
sam_pseudo_masks = '{work_dir:epsam}/step5_pseudo_labels_iter3/masks'
segmenter = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny{}_1xb8-200it_synthetic-bcss-128x128.py'
segformer = 'configs/segformer/segformer_mit-tiny{}_1xb8-200it_synthetic-bcss-128x128.py'
seg_map_option = 'train_dataloader.dataset.data_prefix.seg_map_path='

entries = [
    dict(name='epsam',
         method='EP-SAM multi-class: SAM (decoder-only) prompted by CAM, 3 iterations',
         runner='pipeline',
         config='configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-decoder_3iter_'
                'synthetic-bcss-128x128.py',
         # EP-SAM's IDS threshold 0.9 keeps no mask of the random stand-in SAM
         # (its IDS scores stay below ~0.6), so the iterations would never
         # re-train; 0.3 keeps about half. Use 0.9 with a real SAM.
         cfg_options=pipeline_data + ['pseudo_labels.selector.threshold=0.3']),
    # The same method with each SAM tuning variant in place of decoder-only
    # tuning (configs/epsam/epsam-pipeline_*_sam-tiny-{variant}_*), reusing the
    # classifier (and so the CAMs) of the decoder-only entry.
    *[dict(name=f'epsam-{variant}',
           method=f'EP-SAM multi-class: SAM + {label} prompted by CAM, 3 iterations',
           runner='pipeline',
           config=f'configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-{variant}_3iter_'
                  'synthetic-bcss-128x128.py',
           cfg_options=pipeline_data + ['pseudo_labels.selector.threshold=0.3',
                                        'classifier.checkpoint={work_dir:epsam}'])
      for variant, label in (('cad', 'CAD'), ('cad-lean', 'memory-lean CAD'),
                             ('samadapter', 'SAM-Adapter'), ('bottleneck', 'bottleneck adapters'),
                             ('lora', 'LoRA'))],
    # Decoder-only tuning with negative points in every class prompt.
    dict(name='epsam-negpoints',
         method='EP-SAM multi-class: SAM (decoder-only), positive + negative points, 3 '
                'iterations',
         runner='pipeline',
         config='configs/epsam/epsam-pipeline_r18tiny-cam_sam-tiny-decoder-negpoints_3iter_'
                'synthetic-bcss-128x128.py',
         cfg_options=pipeline_data + ['pseudo_labels.selector.threshold=0.3',
                                      'classifier.checkpoint={work_dir:epsam}']),
    dict(name='gradcam',
         method='Grad-CAM class maps (no SAM, no segmenter)',
         runner='pipeline',
         config='configs/epsam/epsam-pipeline_r18tiny-gradcam_no-sam_synthetic-bcss-128x128.py',
         cfg_options=pipeline_data + ['classifier.checkpoint={work_dir:epsam}']),
    # The segmenter: a segmentor trained on another entry's pseudo-labels.
    *[dict(name=name, method=method, runner='train_test', config=config,
           dataset='synthetic BCSS', cfg_options=segmenter_data + [seg_map_option + masks],
           stand_in_sam=stand_in)
      for name, method, config, masks, stand_in in (
          ('epsam-deeplabv3plus', 'EP-SAM SAM pseudo-labels -> DeepLabV3+ (tiny)',
           segmenter.format(''), sam_pseudo_masks, 'epsam'),
          ('cam-deeplabv3plus', 'CAM pseudo-labels -> DeepLabV3+ (tiny)',
           segmenter.format('_cam-pseudo'), cam_masks, False),
          ('gradcam-deeplabv3plus', 'Grad-CAM pseudo-labels -> DeepLabV3+ (tiny)',
           segmenter.format('_gradcam-pseudo'), gradcam_masks, False),
          # The field's other segmentor, a tiny SegFormer (MiT).
          ('epsam-segformer', 'EP-SAM SAM pseudo-labels -> SegFormer (tiny)',
           segformer.format(''), sam_pseudo_masks, 'epsam'),
          ('cam-segformer', 'CAM pseudo-labels -> SegFormer (tiny)',
           segformer.format('_cam-pseudo'), cam_masks, False),
          ('mlps-deeplabv3plus',
           'Grad-CAM pseudo-labels -> DeepLabV3+ multi-layer supervision (tiny, MLPS)',
           segmenter.format('-mlps_gradcam-pseudo'), gradcam_masks, False))],
]
