# The multi-class protocol on LUAD-HistoSeg (224 px): TE, NEC, LYM, TAS; background = mask index 4
# (real folder layout under data/LUAD-HistoSeg; see docs/benchmarks_multiclass.md).
# Everything but the data and the classifier as in the BCSS-WSSS config.
#   python tools/run_pipeline.py THIS_CONFIG --sam-checkpoint sam_vit_b_01ec64.pth --device cuda
_base_ = ['./epsam-pipeline_r50-cam_sam-vit-b-decoder_3iter_bcss-wsss-224x224.py']
dataset_name = 'LUAD-HistoSeg'
data_root = 'data/LUAD-HistoSeg'
split_prefixes = dict(train=dict(img_path='train'))  # val and test as in BCSS-WSSS
classifier = dict(config='configs/adl_cam/adl-cam_r50-hf_1xb16-50e_luad-histoseg-224x224.py')
