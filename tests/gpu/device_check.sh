#!/bin/sh
# The one script a session with a GPU machine runs (issue 33, item 5), in the repository root,
# after tests/gpu/prepare_carry.sh ran here:
#   run(command="sh tests/gpu/device_check.sh", carry=[".carry"], timeout_s=590)
# Steps (each bounded; the whole fits in 9 minutes 30): the wheels; the device; make test-gpu
# (the reference solutions and valid alternatives, and the misconceptions, on CUDA); the
# timings CUDA against CPU; one GPU-sandboxed kernel with SANDBOX["gpu"]'s bind list.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    .carry/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=torch MPLBACKEND=Agg PYTHONUNBUFFERED=1 DLCOURSE_SMOKE=1
export PATH=$PWD/.carry:$PATH
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
python3 -c "import torch, keras; print('torch', torch.__version__, 'keras', keras.__version__, keras.backend.backend())"
echo "== test-gpu"
timeout 260 python3 tests/gpu/run_gpu.py --misconceptions --json "$OUT/test_gpu.json" 2>&1 | tee "$OUT/test_gpu.log"
echo "== timings"
timeout 200 python3 tests/gpu/timing.py --repeat 3 --json "$OUT/timing.json" 2>&1 | tee "$OUT/timing.log"
echo "== sandboxed kernel with SANDBOX[gpu]"
timeout 60 python3 tests/gpu/sandbox_gpu_check.py 2>&1 | tee "$OUT/sandbox_gpu.log"
