#!/usr/bin/env bash
# The whole GPU check as one run on a CUDA machine (a lease is minutes long, so it is one script):
#   1. what the machine is: nvidia-smi, Python and library versions;
#   2. whether CUDA starts under the sandbox's address-space limit (it should not: hotpath runs
#      GPU trials without one);
#   3. the GPU backends' tests, GPU-marked ones included (tests/test_gpu_backends.py);
#   4. bench/run_gpu.py over the corpus, GPU-relevant kernels first, until a deadline: CuPy, then
#      torch; its tables are rewritten after every kernel, so a run cut short keeps what it measured.
# Everything lands in $OUT (default /tmp/gpu-check). Runs from a source tree: no install needed,
# the machine's python3 must have NumPy, Numba, Cython, cloudpickle, rich, CuPy and torch.
#
#   OUT=/tmp/gpu-check TOTAL_S=480 bash bench/gpu_device_check.sh
set -u
OUT=${OUT:-/tmp/gpu-check}
TOTAL_S=${TOTAL_S:-480}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD HOTPATH_HOME=${HOTPATH_HOME:-/tmp/hotpath-gpu-home}
began=$(date +%s)

{
  nvidia-smi
  $PY -c "import sys, numpy, numba, cupy, torch
print(sys.version)
print('numpy', numpy.__version__, 'numba', numba.__version__, 'cupy', cupy.__version__,
      'torch', torch.__version__, 'torch cuda', torch.version.cuda, torch.cuda.is_available())"
  nproc
  echo "--- CUDA under an 8 GiB address-space limit (hotpath's default for CPU trials):"
  $PY -c "import resource; resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
import cupy
try:
    print('started:', float(cupy.arange(4.0).sum()))
except Exception as exc:
    print('failed:', type(exc).__name__, exc)"
} > "$OUT/env.txt" 2>&1

timeout 220 $PY -m pytest -p no:cacheprovider -q -rs tests/test_gpu_backends.py > "$OUT/pytest-gpu.txt" 2>&1
echo "pytest exit status $?" >> "$OUT/pytest-gpu.txt"

# Kernels where a GPU can pay first (large arrays, arithmetic), then the rest of the corpus.
names=$($PY -c "
from bench import corpus
first = ['black_scholes_call_vec', 'laplace_stencil_vec', 'rms_error_vec', 'softmax_rows_vec',
         'wave_packet_energy_vec', 'jacobi_step_loops', 'logsumexp_rows_vec', 'mandelbrot_loops',
         'normalized_cross_correlation_vec', 'huber_loss_vec', 'field_intensity_vec', 'gradient_2d_vec',
         'cosine_similarity_rows_vec', 'laplacian_3d_loops', 'zscore_columns_vec', 'velocity_vec',
         'calibrate_image_inplace_loops', 'logistic_nll_vec']
print(' '.join(first + [k.name for k in corpus.KERNELS if k.name not in first]))")
# CuPy first, over two thirds of what is left: torch's CPU compile starts cold on a fresh machine
# and can spend a kernel's whole budget before its CUDA candidate is tried (seen on an H200).
bench() {  # bench STEM BACKENDS SHARE: run_gpu with SHARE of the seconds left
  local left=$(( TOTAL_S - ($(date +%s) - began) ))
  local mine=$(( left * $3 / 100 ))
  local deadline=$(awk "BEGIN { d = ($mine - 75) / 60; print (d > 0.5 ? d : 0.5) }")
  timeout $(( mine > 30 ? mine - 10 : 20 )) $PY -m bench.run_gpu --backends "$2" --deadline "$deadline" \
    --out "$OUT/$1" $names > "$OUT/$1.txt" 2>&1
  echo "bench exit status $? after $(( $(date +%s) - began )) s" >> "$OUT/$1.txt"
}
bench gpu cupy 67
bench gpu-torch torch 100
