#!/usr/bin/env bash
# Usage: bash tools/dist_pipeline.sh CONFIG NUM_PROCS [run_pipeline.py options]
# The whole EP-SAM pipeline on NUM_PROCS processes of this node (torchrun): the
# trainings under DDP, CAMs, pseudo-labels and evaluation sharded by rank.
# CPU-only machines use the gloo backend automatically. Several nodes: set
# NNODES, NODE_RANK and MASTER_ADDR on each (the work dir must be shared).
CONFIG=$1
NPROCS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
python -m torch.distributed.run \
    --nnodes="$NNODES" --node_rank="$NODE_RANK" --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$(dirname "$0")/run_pipeline.py" "$CONFIG" --launcher pytorch "${@:3}"
