# The multi-class protocol on WSSS4LUAD (about 150-300 px): tumor, stroma, normal; background =
# mask index 3 (real folder layout under data/WSSS4LUAD; see docs/benchmarks_multiclass.md).
# Everything but the data and the classifier as in the BCSS-WSSS config.
#   python tools/run_pipeline.py THIS_CONFIG --sam-checkpoint sam_vit_b_01ec64.pth --device cuda
_base_ = ['./epsam-pipeline_r50-cam_sam-vit-b-decoder_3iter_bcss-wsss-224x224.py']
dataset_name = 'WSSS4LUAD'
data_root = 'data/WSSS4LUAD'
split_prefixes = dict(
    train=dict(img_path='1.training'),
    val=dict(img_path='2.validation/img', seg_map_path='2.validation/mask'),
    test=dict(img_path='3.testing/img', seg_map_path='3.testing/mask'))
classifier = dict(config='configs/adl_cam/adl-cam_r50-hf_1xb16-50e_wsss4luad-224x224.py')
