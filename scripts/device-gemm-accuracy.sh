#!/usr/bin/env bash
# The GEMM test against the careful reference with the interleaved protocol (issue 32), on a lent GPU machine:
#     bash scripts/device-gemm-accuracy.sh OUT_FOLDER
# N pairs at the default measuring time and at a shorter one; the outputs go to OUT_FOLDER, and are kept under
# tests/fixtures/bench/ (the machine and the date in each file's first line).
set -u
out=${1:?OUT folder}
py=$(command -v python3 || command -v python)
mkdir -p /tmp/td-deps && for w in .whl/*.whl; do "$py" -m zipfile -e "$w" /tmp/td-deps >/dev/null 2>&1; done
export PYTHONPATH=$PWD/src:/tmp/td-deps
for seconds in ${SECONDS_LIST:-1.5 1.0}; do
  { echo "# $(hostname) $(date -u +%Y-%m-%dT%H:%M:%SZ) gemm_accuracy --pairs ${PAIRS:-5} --seconds $seconds"
    "$py" benchmarks/gemm_accuracy.py --python "$py" --pairs "${PAIRS:-5}" --seconds "$seconds" 2>&1
  } > "$out/gemm-accuracy-$seconds.txt"
  tail -8 "$out/gemm-accuracy-$seconds.txt"
done
