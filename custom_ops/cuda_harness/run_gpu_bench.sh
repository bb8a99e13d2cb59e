#!/usr/bin/env bash
# Runs on a CUDA machine (nvcc, a GPU, PyTorch + torchvision; no TensorFlow needed):
#   1. builds the harness (make cuda-harness) and prints the static resources
#      of every kernel variant for sm_90 (kernel_stats.py: ptxas -v registers,
#      spill stores / loads, stack frame; SASS counts if nvdisasm is found),
#   2. checks our kernels against the CPU implementation and times them,
#      also with 64-bit indexing forced (checks only),
#   3. runs compute-sanitizer memcheck / racecheck / initcheck / synccheck on the
#      edge cases (all kernels, both modes, corrupt argmax included),
#   4. times torchvision's roi_align on the same workloads and boxes,
#   5. checks and times the float16 / bfloat16 kernels against the CPU kernels
#      in the same types (--dtype),
#   6. compares the timings against the targets (docs/benchmarks.md) and prints
#      the verdicts (compare_results.py).
# Usage: custom_ops/cuda_harness/run_gpu_bench.sh [RESULTS_DIR]
#   (default: $OUT if set, else custom_ops/cuda_harness/results)
# Exit status: non-zero if a check, a sanitizer or a target failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
RESULTS=${1:-${OUT:-custom_ops/cuda_harness/results}}
mkdir -p "$RESULTS"
HARNESS=custom_ops/cuda_harness/build/roi_warp_harness
PYTHON=${PYTHON:-python3}
status=0
step() { echo; echo "### $*"; }

step "build"
if command -v make > /dev/null; then
  make cuda-harness || exit 1
else  # same command as custom_ops/cuda_harness/Makefile
  mkdir -p custom_ops/cuda_harness/build
  (cd custom_ops/cuda_harness && nvcc -O3 -std=c++17 -fmad=false -lineinfo \
     -Xcompiler -ffp-contract=off,-pthread,-Wall \
     -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_90,code=sm_90 \
     -I../roi_warp harness_main.cu -o build/roi_warp_harness) || exit 1
fi
nvidia-smi > "$RESULTS/nvidia_smi.txt" 2>&1 || true

step "static kernel resources, sm_90 (ptxas -v; informational)"
"$PYTHON" custom_ops/cuda_harness/kernel_stats.py --arch sm_90 --json "$RESULTS/kernel_stats.json" \
  --markdown "$RESULTS/kernel_stats.md" > "$RESULTS/kernel_stats.txt" 2>&1 \
  || echo "kernel_stats.py failed (see $RESULTS/kernel_stats.txt)"
grep -E "^Static" "$RESULTS/kernel_stats.txt"
echo "kernel (float32, uint8 argmax, 32-bit index) | registers | spill stores | spill loads | stack"
grep -E "^\| (RoiWarpForwardKernel<float, uint8, int, |PooledBoxGradKernel<float, uint8, int, |RowBoxGradKernel<float, int, )" \
  "$RESULTS/kernel_stats.txt" | cut -d'|' -f2-6
grep -E "^spills" "$RESULTS/kernel_stats.txt"

step "harness: checks + timings"
"$HARNESS" --json "$RESULTS/harness.json" 2>&1 | tee "$RESULTS/harness.txt" || status=1

step "harness: 64-bit indexing (checks only)"
"$HARNESS" --force-int64 --no-timing 2>&1 | tee "$RESULTS/harness_int64.txt" | tail -n 3 || status=1

for dtype in float16 bfloat16; do
  step "harness: $dtype (checks against the CPU kernels in $dtype + timings)"
  "$HARNESS" --dtype "$dtype" --json "$RESULTS/harness_$dtype.json" 2>&1 \
    | tee "$RESULTS/harness_$dtype.txt" | tail -n 12 || status=1
done

SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ -x "$SANITIZER" ]; then
  for tool in memcheck racecheck initcheck synccheck; do
    step "compute-sanitizer --tool $tool (edge cases)"
    if "$SANITIZER" --tool "$tool" --error-exitcode 9 "$HARNESS" --workloads edge --no-timing \
        > "$RESULTS/sanitizer_$tool.txt" 2>&1; then
      tail -n 2 "$RESULTS/sanitizer_$tool.txt"
    else
      echo "compute-sanitizer $tool FAILED (see $RESULTS/sanitizer_$tool.txt)"; status=1
    fi
  done
else
  echo "compute-sanitizer not found: sanitizer runs skipped" | tee "$RESULTS/sanitizer_missing.txt"
  status=1
fi

step "torchvision roi_align"
"$PYTHON" custom_ops/cuda_harness/bench_torchvision.py --json "$RESULTS/torchvision.json" \
  2>&1 | tee "$RESULTS/torchvision.txt" || status=1

step "comparison"
if [ -f "$RESULTS/harness.json" ] && [ -f "$RESULTS/torchvision.json" ]; then
  "$PYTHON" custom_ops/cuda_harness/compare_results.py "$RESULTS/harness.json" \
    "$RESULTS/torchvision.json" --markdown "$RESULTS/comparison.md" || status=1
else
  echo "missing results: no comparison"; status=1
fi
for dtype in float16 bfloat16; do
  if grep -q "ALL CHECKS PASSED" "$RESULTS/harness_$dtype.txt" 2> /dev/null; then
    echo "verdict: $dtype kernels match the CPU kernels in $dtype -> met"
  else
    echo "verdict: $dtype kernels vs CPU -> NOT met (see $RESULTS/harness_$dtype.txt)"; status=1
  fi
done
echo; echo "results in $RESULTS (exit status $status)"
exit $status
