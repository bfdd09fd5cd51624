"""Benchmarking: measurement helpers and the results harness.

Import the submodules directly (they pull in different dependencies):

- :mod:`.memory`: bytes saved for backward, resident memory, machine info;
- :mod:`.tuning_step`, :mod:`.tuning_report`: the SAM tuning memory benchmark
  (``tools/benchmarks/tuning_memory.py``) and the timed tuning epoch, cached
  vs recomputed embeddings (``tools/benchmarks/tuning_epoch_cache.py``);
- :mod:`.encoder_speed`: encoder FLOPs and seconds, load average, weights note;
- :mod:`.harness`, :mod:`.published`: collecting results into tables and
  charts (``tools/benchmark.py``), with published reference numbers;
- :mod:`.seeds`: one row from a run repeated with several seeds (mean, spread).
"""
