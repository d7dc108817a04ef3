#!/usr/bin/env bash
# cardgen on a GPU: examples/s, label agreement with fp32 and peak GPU memory in fp32, fp16 and
# bf16 for cardgen and for transformers.pipeline(batch_size=32), on 25,000 IMDb-review-length
# texts, then the goal check (25,000 in < 5 s in bf16, >= 99.9% agreement, >= 3x the pipeline).
#
#   bash bench/gpu.sh                      # on a GPU machine, from anywhere; about 2-3 minutes
#   bash bench/gpu.sh --rows 5000          # options go to bench/gpu.py (--help lists them)
#   PYTHON=.venv/bin/python bash bench/gpu.sh --quick --device cpu   # CPU smoke check
#
# Needs a python3 that has torch (with CUDA), transformers and tokenizers; nothing is
# downloaded. cardgen is installed without its dependencies into /tmp/cardgen-site (src/ is
# used directly if that fails). Without ../shared/data the texts are synthetic.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
site=/tmp/cardgen-site
if "$PYTHON" -m pip install -q --no-deps --no-build-isolation --no-index --upgrade \
    --target "$site" . >/tmp/cardgen-install.log 2>&1; then
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
else
  echo "installing cardgen failed (/tmp/cardgen-install.log); running it from src/"
  export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version \
  --format=csv,noheader
exec timeout 290 "$PYTHON" bench/gpu.py "$@"
