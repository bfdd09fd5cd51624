# Benchmark set "sam_tuning_synthetic_camelyon": the six SAM tuning variants
# of CAD's comparison (decoder-only, CAD, memory-lean CAD, SAM-Adapter,
# bottleneck adapters, LoRA) at an equal training budget: the same data, full-
# image box prompts, ground-truth masks, schedule (10 epochs, AdamW 1e-3,
# cosine), loss (BCE + IoU) and seeds. Each variant trains and tests with
# seeds 0, 1 and 2 (work dir {name}/seed{S}); its row is the mean, the spread
# in the notes. The seed sets the random stand-in SAM's weights too. SAM is
# the tiny, randomly initialised stand-in: the rows say how the variants train
# from scratch on synthetic patches, nothing about a real SAM. One command
# (docs/benchmarks_tuning_accuracy.md):
#   python tools/dataset_converters/generate_synthetic_data.py camelyon \
#       --out data/synthetic_camelyon_bench --num-train 160 --num-val 8 --num-test 80 && \
#   nice -n 5 python tools/benchmark.py --run sam_tuning_synthetic_camelyon

data_root = 'data/synthetic_camelyon_bench'
data_options = [f'{loader}.dataset.data_root={data_root}'
                for loader in ('train_dataloader', 'test_dataloader')]
config = 'configs/sam_tuning/sam-{}-fullbox_tiny_1xb4-10e_synthetic-camelyon-128x128.py'
variants = [
    ('decoder', 'SAM decoder-only tuning', []),
    ('cad', 'SAM + CAD (parallel adapter)', []),
    # Its own embedding cache, so earlier runs cannot speed it up.
    ('cad-lean', 'SAM + memory-lean CAD (checkpointing + embedding cache)',
     ['model.embedding_cache.cache_dir={work_dir}/embedding_cache']),
    ('samadapter', 'SAM + SAM-Adapter (in-encoder)', []),
    ('bottleneck', 'SAM + bottleneck adapters (in-encoder)', []),
    ('lora', 'SAM + LoRA r4 on q, v (in-encoder)', []),
]
seeds = [0, 1, 2]
entries = [
    dict(name=name, method=method, runner='train_test', config=config.format(name),
         dataset='synthetic Camelyon', cfg_options=data_options + options, seeds=seeds,
         stand_in_sam=True)
    for name, method, options in variants
]
