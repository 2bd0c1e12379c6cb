#!/usr/bin/env bash
# Issue 32 on a lent GPU machine, in one call: (1) the interleaved protocol (benchmarks/gemm_accuracy.py --pairs) at
# the default measuring time, whose reference column is the knowledge row's `measured` value for this GPU; (2) the
# GEMM test with another process's GEMM loop running on the same GPU, saved as a snapshot (the contended recording);
# (3) the same test alone right after, for the baseline beside it.
#     bash scripts/device-gemm-session.sh OUT_FOLDER
set -u
out=${1:?OUT folder}
py=$(command -v python3 || command -v python)
mkdir -p /tmp/td-deps && "$py" -m pip install -q --no-index --no-deps -t /tmp/td-deps .whl/*.whl >/dev/null 2>&1
export PYTHONPATH=$PWD/src:/tmp/td-deps TORCHDOCTOR_OFFLINE=1
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv > "$out/gpu.txt" 2>&1
{ echo "# $(hostname) $(date -u +%Y-%m-%dT%H:%M:%SZ) gemm_accuracy --pairs ${PAIRS:-5} --seconds 1.5"
  "$py" benchmarks/gemm_accuracy.py --python "$py" --pairs "${PAIRS:-5}" --seconds 1.5 2>&1
} > "$out/gemm-accuracy-1.5.txt"
tail -8 "$out/gemm-accuracy-1.5.txt"
# Another process computing on the GPU, as a second user's job would: bf16 products for 60 s.
"$py" - > "$out/competitor.txt" 2>&1 <<'PY' &
import time, torch
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16); b = torch.randn_like(a)
end = time.time() + 60
n = 0
while time.time() < end:
    for _ in range(20):
        torch.matmul(a, b)
    torch.cuda.synchronize(); n += 20
print("competitor products:", n)
PY
competitor=$!
sleep 8
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv > "$out/apps-during.txt" 2>&1
"$py" -m torchdoctor bench --project src/torchdoctor/demo --python "$py" --save-snapshot "$out/bench-contended.json" \
  --color never > "$out/bench-contended.txt" 2>&1
kill $competitor 2>/dev/null; wait $competitor 2>/dev/null
sleep 5
"$py" -m torchdoctor bench --project src/torchdoctor/demo --python "$py" --save-snapshot "$out/bench.json" \
  --color never > "$out/bench.txt" 2>&1
tail -25 "$out/bench-contended.txt"; tail -12 "$out/bench.txt"
ls -la "$out"
