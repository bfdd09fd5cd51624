# CAD's schedule (arXiv 2409.15889): AdamW lr 2e-4, cosine, 20 epochs, batch 4.
_base_ = ['./schedule_20e_adamw_cosine.py']
optim_wrapper = dict(optimizer=dict(lr=2e-4))
