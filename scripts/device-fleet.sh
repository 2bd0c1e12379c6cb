#!/bin/sh
# Record `torchdoctor fleet` on a GPU machine (run from the repository root; writes into $1, default $OUT).
#
#   1. one rank per GPU on an idle machine;
#   2. the same while another process runs bf16 GEMMs on GPU 0 (NVML must show it, and its rate must drop);
#   3. two ranks on one GPU when the machine has only one: NCCL refuses ranks that share a GPU, which exercises the
#      multi-rank NCCL path and the failed-collective finding on real hardware.
# The snapshots become tests/fixtures/fleet/*.json, replayed by tests/test_fleet.py.
set -u
out=${1:-$OUT}
project=$(mktemp -d)
printf '[project]\nname = "fleet"\nversion = "0"\n' > "$project/pyproject.toml"
gpus=$(nvidia-smi -L | wc -l)
fleet() {
  name=$1; shift
  python3 -m torchdoctor fleet --python python3 --project "$project" --color never -v --save-snapshot "$out/$name.json" "$@" \
    > "$out/$name.txt" 2> "$out/$name.err"
  echo "$name: exit $?"; cat "$out/$name.txt"; tail -5 "$out/$name.err"
}
nvidia-smi --query-gpu=name,driver_version,power.limit,pcie.link.gen.max,pcie.link.width.max --format=csv
nvidia-smi nvlink -s 2>&1 | head -5
fleet idle --nproc-per-node "$gpus" --gemm-seconds 3
python3 -c "
import torch, time
a = torch.randn(8192, 8192, device='cuda:0', dtype=torch.bfloat16)
end = time.monotonic() + 90
while time.monotonic() < end:
    for _ in range(20):
        a @ a
    torch.cuda.synchronize()
" &
load=$!
sleep 8
fleet loaded --nproc-per-node "$gpus" --gemm-seconds 3
kill $load; wait $load 2>/dev/null
if [ "$gpus" -eq 1 ]; then
  fleet shared --nproc-per-node 2 --gemm-seconds 2 --timeout 60 --max-bytes 67108864
fi
