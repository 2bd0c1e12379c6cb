#!/usr/bin/env bash
# Capture, on a lent GPU machine, the raw facts torchdoctor's probes and `triage` read, as the machine prints them:
# the smoke test's verdict, nvidia-smi in its layouts, collect_env, and the container/shm/driver state.
#     bash scripts/device-capture.sh OUT_FOLDER
# What comes back is saved under tests/fixtures/captures/ (the machine and date in each file's first line).
set -u
out=${1:?OUT folder}
py=$(command -v python3 || command -v python)
mkdir -p /tmp/td-deps && "$py" -m pip install -q --no-index --no-deps -t /tmp/td-deps .whl/*.whl >/dev/null 2>&1
export PYTHONPATH=$PWD/src:/tmp/td-deps
head() { echo "# $(hostname) $(date -u +%Y-%m-%dT%H:%M:%SZ) $*"; }
section() { echo; echo "### $*"; }
{ head "smoke test"; "$py" scripts/device-smoke-test.py /tmp; } > "$out/smoke.txt" 2>&1
{ head "nvidia-smi"; nvidia-smi 2>&1; section "nvidia-smi -L"; nvidia-smi -L 2>&1; } > "$out/nvidia-smi.txt"
{ head "nvidia-smi -q"; nvidia-smi -q 2>&1; } > "$out/nvidia-smi-q.txt"
{ head "collect_env"; "$py" -m torch.utils.collect_env 2>&1; } > "$out/collect_env.txt"
{ head "pip list"; "$py" -m pip list 2>&1; section "pip freeze"; "$py" -m pip freeze 2>&1; } > "$out/pip.txt"
{
  head "system"
  for f in /proc/driver/nvidia/version /sys/module/nvidia/version /proc/sys/kernel/osrelease /etc/os-release \
           /proc/1/cgroup /proc/self/cgroup /proc/cmdline /proc/sys/kernel/shmmax /sys/fs/cgroup/memory.max; do
    section "cat $f"; cat "$f" 2>&1
  done
  section "uname -a"; uname -a
  section "python -V"; "$py" -V 2>&1
  section "ls -la /dev/nvidia* /dev/dxg /.dockerenv /run/.containerenv"; ls -la /dev/nvidia* /dev/dxg /.dockerenv /run/.containerenv 2>&1
  section "ls /dev/nvidia-caps"; ls -la /dev/nvidia-caps 2>&1
  section "df -k /dev/shm"; df -k /dev/shm 2>&1
  section "stat -f /dev/shm"; stat -f /dev/shm 2>&1
  section "touch /dev/shm"; t=/dev/shm/td-$$; (echo x > "$t" && echo writable && rm -f "$t") 2>&1
  section "grep shm /proc/self/mountinfo"; grep -E ' /dev/shm | /dev ' /proc/self/mountinfo 2>&1
  section "ipc namespace"; readlink /proc/self/ns/ipc /proc/1/ns/ipc 2>&1
  section "/proc/self/mountinfo (nvidia, libcuda)"; grep -Ei 'nvidia|libcuda|cuda' /proc/self/mountinfo 2>&1 | head -80
  section "ldconfig -p (cuda, nvidia, cudnn, nccl)"; ldconfig -p 2>&1 | grep -Ei 'cuda|nvidia|cudnn|nccl|cublas|nvjitlink'
  section "env (cuda/nvidia/ld)"; env | grep -E '^(CUDA|NVIDIA|LD_|NCCL|PYTORCH|TORCH|HSA_|ROCR|HIP_)' 2>&1
  section "ls /usr/local"; ls -la /usr/local 2>&1
  section "ls /sys/kernel/iommu_groups"; ls /sys/kernel/iommu_groups 2>&1 | head -20
  section "nvidia-smi topo -m"; nvidia-smi topo -m 2>&1
  section "nvidia-smi query"; nvidia-smi --query-gpu=name,pci.bus_id,driver_version,mig.mode.current,compute_mode,memory.used,memory.total --format=csv 2>&1
  section "nvidia-smi compute apps"; nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv 2>&1
  section "python packages (site)"; "$py" - <<'PY' 2>&1
import importlib.metadata as m, site, sys
print(sys.executable, sys.version)
print("site:", site.getsitepackages(), site.getusersitepackages())
for d in sorted(m.distributions(), key=lambda d: (d.metadata["Name"] or "").lower()):
    n = d.metadata["Name"] or ""
    if n.lower().startswith(("torch", "triton", "pytorch", "nvidia", "numpy")):
        print(n, d.version, d._path)
import torch
print("torch requires:", [r for r in (m.requires("torch") or []) if "triton" in r or "nvidia" in r][:40])
print("arch list:", torch.cuda.get_arch_list(), torch.version.cuda, torch.backends.cudnn.version())
PY
} > "$out/system.txt" 2>&1
{ head "torchdoctor check"; PYTHONPATH=src TORCHDOCTOR_OFFLINE=1 "$py" -m torchdoctor check --project src/torchdoctor/demo \
    --format json --save-snapshot "$out/snapshot.json" --fail-on error 2>&1 | tail -c 200000; } > "$out/check.txt" 2>&1
ls -la "$out"
