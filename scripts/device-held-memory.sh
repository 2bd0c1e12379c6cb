#!/usr/bin/env bash
# Issue 29 on a lent GPU machine, in one call, nothing of its settings changed: (1) `check` as the machine is (MIG mode
# as it is, the processes NVML lists, this user's processes holding the GPU, the probes' time); (2) another process
# allocates most of the GPU's memory and stops itself (SIGSTOP, as Ctrl+Z does), and `check` runs again: TD527 must
# name it as stopped, with how to end it; (3) the holder is killed and `check` runs a third time: silent again.
#     bash scripts/device-held-memory.sh OUT_FOLDER
set -u
out=${1:?OUT folder}
py=$(command -v python3 || command -v python)
mkdir -p /tmp/td-deps && "$py" -m pip install -q --no-index --no-deps -t /tmp/td-deps .whl/*.whl >/dev/null 2>&1
export PYTHONPATH=$PWD/src:/tmp/td-deps TORCHDOCTOR_OFFLINE=1
check() { "$py" -m torchdoctor check --project src/torchdoctor/demo --python "$py" --color never --fresh \
            --save-snapshot "$out/$1.json" > "$out/$1.txt" 2>&1; echo "check $1: rc=$?"; }
check as-is
"$py" benchmarks/machine_probes.py --rounds 10 --load 400 > "$out/machine-probes.txt" 2>&1
# A job that holds most of the GPU and is stopped, started apart from torchdoctor (its own session).
setsid "$py" - > "$out/holder.txt" 2>&1 <<'PY' &
import os, signal, torch
total = torch.cuda.get_device_properties(0).total_memory
block = torch.empty(int(total * 0.6), dtype=torch.uint8, device="cuda")
torch.cuda.synchronize()
print("holding", block.numel() >> 30, "GiB as pid", os.getpid(), flush=True)
os.kill(os.getpid(), signal.SIGSTOP)
PY
for _ in $(seq 60); do grep -q holding "$out/holder.txt" 2>/dev/null && break; sleep 1; done
sleep 2
holder=$(grep -o 'pid [0-9]*' "$out/holder.txt" | cut -d' ' -f2)
{ nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv; ps -o pid,stat,ppid,comm -p "$holder"; } \
  > "$out/apps-held.txt" 2>&1
check held-by-stopped
kill -9 "$holder" 2>/dev/null; sleep 5
check released
grep -h "TD527\|TD240\|TD529" "$out"/*.txt | head -20
cat "$out/apps-held.txt" "$out/machine-probes.txt"
ls -la "$out"
