#!/usr/bin/env bash
# Record the GEMM test on a real GPU for torchdoctor's tests and notes. Run from the repository root,
# e.g. `OUT=/tmp/rec NAME=h100 PYTHON=/opt/torch/.venv/bin/python3 scripts/record-gemm-fixtures.sh`.
# $PYTHON needs torch with CUDA and torchdoctor's runtime dependencies (packaging, psutil, nvidia-ml-py).
# What it writes under $OUT:
#   gemm-accuracy-$NAME.txt        benchmarks/gemm_accuracy.py: short test vs long reference, 5 runs
#   $NAME-bench.json               `check --bench --save-snapshot`: the machine with a healthy GEMM test
#   $NAME-bench-contended.json     the same while another process runs bf16 GEMMs on the GPU
#   $NAME-bench-tf32-override.json the same with NVIDIA_TF32_OVERRIDE=1
#   $NAME-bench.log                what `torchdoctor bench` printed for each run, as a user sees it
set -u
OUT=${OUT:?set OUT to a folder for the recordings}
NAME=${NAME:?set NAME, e.g. h100}
PYTHON=$(command -v "${PYTHON:-python3}")
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
project=$(mktemp -d)
cp tests/fixtures/projects/h100-pypi/pyproject.toml tests/fixtures/projects/h100-pypi/uv.lock "$project/"
export TORCHDOCTOR_CACHE_DIR="$project/.cache"
log="$OUT/$NAME-bench.log"

"$PYTHON" benchmarks/gemm_accuracy.py --python "$PYTHON" --repeat 5 2>&1 | tee "$OUT/gemm-accuracy-$NAME.txt"

bench() {  # bench LABEL SNAPSHOT [env assignments...]
  local label=$1 file=$2; shift 2
  echo "=== $label" | tee -a "$log"
  env "$@" "$PYTHON" -m torchdoctor bench --project "$project" --python "$PYTHON" --save-snapshot "$file" \
    --fail-on warning 2>&1 | tee -a "$log"
  echo "exit status ${PIPESTATUS[0]}" | tee -a "$log"
}

bench "healthy" "$OUT/$NAME-bench.json"

# A deliberately slowed run: another process keeps the GPU busy with bf16 GEMMs for the whole test.
"$PYTHON" - <<'PY' &
import time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
stop = time.time() + 90
while time.time() < stop:
    for _ in range(20):
        a @ a
    torch.cuda.synchronize()
PY
hog=$!
sleep 8  # let it import torch and start multiplying
bench "contended (another process running bf16 GEMMs)" "$OUT/$NAME-bench-contended.json"
kill $hog; wait $hog 2>/dev/null

bench "NVIDIA_TF32_OVERRIDE=1" "$OUT/$NAME-bench-tf32-override.json" NVIDIA_TF32_OVERRIDE=1
# The text report of the contended run, replayed from its snapshot (what `check --snapshot` shows).
"$PYTHON" -m torchdoctor check --snapshot "$OUT/$NAME-bench-contended.json" --project "$project" >>"$log" 2>&1
