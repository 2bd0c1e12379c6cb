#!/bin/sh
# On a GPU machine (from the repository root; writes into $1, default $OUT): the first verdict from torch's files
# against the full probe, and the timing benchmark of check (cold, warm, --quick) against collect_env.
set -u
out=${1:-$OUT}
project=tests/fixtures/projects/h100-pypi
python3 -m torchdoctor check --quick --fresh --format json --project $project --python python3 > "$out/quick.json"
python3 -m torchdoctor check --fresh --format json --project $project --python python3 > "$out/full.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
quick, full = (json.load(open(f"{out}/{name}.json"))["snapshot"]["torch"] for name in ("quick", "full"))
for key in ("version", "local_tag", "cuda", "git_version", "debug", "cudnn_version", "nccl_version", "installed_version"):
    print(f"{key:16} quick={quick.get(key)!r:45} full={full.get(key)!r:45} {'same' if quick.get(key) == full.get(key) else 'DIFFERENT'}")
missing = sorted(set(full["arch_list"]) - set(quick["arch_list"]))
print("get_arch_list:", " ".join(full["arch_list"]))
print("from files:   ", " ".join(quick["arch_list"]))
print("in get_arch_list but not read from the files:", missing or "none")
PY
python3 benchmarks/check_vs_collect_env.py --python python3 --project $project --rounds 3
