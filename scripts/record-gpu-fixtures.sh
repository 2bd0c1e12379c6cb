#!/usr/bin/env bash
# Record real GPU fixtures for torchdoctor's tests. Run from the repository root on a machine with an
# NVIDIA GPU and a CUDA torch, e.g. `OUT=/tmp/rec PYTHON=/opt/torch/.venv/bin/python3 scripts/record-gpu-fixtures.sh`.
# It needs torchdoctor's runtime dependencies importable by $PYTHON (packaging, psutil, nvidia-ml-py);
# textual and tomlkit are not used by `check`. What it writes under $OUT:
#   snapshot.json            `check --save-snapshot` of this machine with the tests' h100-pypi project
#   report.txt, report.json  the reports of that first (cold) run, as the user saw them
#   snapshot-no-visible.json the same machine with CUDA_VISIBLE_DEVICES="" (every GPU hidden)
#   bench.txt                benchmarks/check_vs_collect_env.py on this machine
#   machine.txt              nvidia-smi and the versions involved
#   importtime.txt           where `import torch` spends its time (the 25 slowest imports, cumulative)
set -u
OUT=${OUT:?set OUT to a folder for the recordings}
PYTHON=${PYTHON:-python3}
PYTHON=$(command -v "$PYTHON")
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
project=$(mktemp -d)
cp tests/fixtures/projects/h100-pypi/pyproject.toml tests/fixtures/projects/h100-pypi/uv.lock "$project/"

{ nvidia-smi; uname -a; "$PYTHON" -c 'import sys, torch; print(sys.version); print(torch.__version__)'; } >"$OUT/machine.txt" 2>&1

export TORCHDOCTOR_CACHE_DIR="$project/.cache"  # start without a probe cache, like a first run
started=$(date +%s%N)
"$PYTHON" -m torchdoctor check --project "$project" --python "$PYTHON" --format json \
  --save-snapshot "$OUT/snapshot.json" >"$OUT/report.json"
status=$?
echo "check (cold) exit status $status, $(( ($(date +%s%N) - started) / 1000000 )) ms"
"$PYTHON" -m torchdoctor check --snapshot "$OUT/snapshot.json" >"$OUT/report.txt"
cat "$OUT/report.txt"
# The snapshot must hold every fact the checks used: replaying it must give the live report exactly.
"$PYTHON" -m torchdoctor check --snapshot "$OUT/snapshot.json" --format json >"$project/replay.json"
"$PYTHON" - "$OUT/report.json" "$project/replay.json" <<'PY'
import json, sys
live, replay = (json.load(open(path)) for path in sys.argv[1:3])
same = live["diagnoses"] == replay["diagnoses"] and live["snapshot"] == replay["snapshot"]
print("replay of the snapshot equals the live report:", "yes" if same else "NO")
sys.exit(0 if same else 1)
PY

CUDA_VISIBLE_DEVICES= "$PYTHON" -m torchdoctor check --project "$project" --python "$PYTHON" \
  --save-snapshot "$OUT/snapshot-no-visible.json" --fail-on info
echo "check with CUDA_VISIBLE_DEVICES='' exit status $?"

"$PYTHON" -X importtime -c 'import torch' 2>&1 >/dev/null | sort -t'|' -k2 -n -r | head -25 >"$OUT/importtime.txt"

"$PYTHON" benchmarks/check_vs_collect_env.py --python "$PYTHON" --project "$project" --rounds 5 | tee "$OUT/bench.txt"
