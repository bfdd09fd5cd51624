#!/usr/bin/env bash
# Usage: [GPUS_PER_NODE=8] [CPUS_PER_TASK=5] [SRUN_ARGS=...] \
#     bash tools/slurm_pipeline.sh PARTITION JOB_NAME CONFIG GPUS [run_pipeline.py options]
# The whole EP-SAM pipeline as one Slurm job of GPUS tasks (one per GPU), as
# mmseg's tools/slurm_train.sh; the work dir must be on a shared file system.
# Rerunning the same command after a killed job resumes it.
set -x

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
GPUS=$4
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PY_ARGS=${@:5}

PYTHONPATH="$(dirname "$0")/..":$PYTHONPATH \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    python -u "$(dirname "$0")/run_pipeline.py" "${CONFIG}" --launcher slurm ${PY_ARGS}
