#!/usr/bin/env bash
# Runs on the GPU machine, from the repository root, after tests/device/pack.sh built publish/device.tar.xz here:
# the CUDA test classes, the attention sample on CUDA against the CPU path, then the GPU benchmark (once per type in
# BENCH_TYPES, default float). Each output also goes to $OUT (when set) as a file. Exits non-zero when any part fails.
# On the H200 the three types took about 5 minutes of benchmark besides the tests' 30 s: within a 600 s device call,
# but not with every timeout below at its default (lower BENCH_TIMEOUT, or run the types in separate calls).
set -uo pipefail
cd "$(dirname "$0")/../.."
for arg in "$@"; do
  if [ "$arg" = --type ]; then echo "run.sh: give the element types in BENCH_TYPES, not --type" >&2; exit 2; fi
done
out=${OUT:-$(mktemp -d)}
work=$(mktemp -d)
tar -C "$work" -xJf publish/device.tar.xz
bin=$work/device

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.memory --format=csv | tee "$out/gpu.txt"
status=0
timeout "${TESTS_TIMEOUT:-200}" "$bin/SoftmaxGen.Tests" --class Cuda 2>&1 | tee "$out/tests.txt" | grep -v '^SKIP' | tail -40
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
# Here a skipped CUDA test means the device was not found: a failure, not a pass.
if grep -q '^SKIP' "$out/tests.txt"; then echo "CUDA tests were skipped: no device found"; status=1; fi
timeout "${ATTENTION_TIMEOUT:-60}" "$bin/Attention" --device both --batch 4 --heads 8 --seq 512 --dim 64 2>&1 | tee "$out/attention.txt" | tail -16
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1
# BENCH_TYPES: the element types to benchmark, one run each (default float); the float run keeps the name benchmark.txt.
for type in ${BENCH_TYPES:-float}; do
  file=$out/benchmark.txt; [ "$type" = float ] || file=$out/benchmark-$type.txt
  timeout "${BENCH_TIMEOUT:-180}" "$bin/SoftmaxGen.GpuBenchmark" --device cuda --type "$type" "$@" 2>&1 | tee "$file"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
done
echo "device run: $([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
