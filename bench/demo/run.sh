#!/usr/bin/env bash
# The demo and rerun benchmark (bench/README.md, "demo and rerun"): wall time of `make demo` and of
# the pipeline's three kinds of run (push to main, pull request, no-change rerun of the pull
# request) for two commits of this repository, side by side on the same machine in one go.
#
# Usage: bench/demo/run.sh BEFORE_REF [AFTER_REF]   (default AFTER_REF: this working tree, as it is)
#   env: BENCH_ROUNDS (1): rounds of each measure, taken alternately before/after;
#        BENCH_MEASURES ("demo runs"): which of the two to take;
#        BENCH_LOCK (/tmp/ecs-poc-registry.lock): held for the whole benchmark, which uses the
#        shared Docker engine and registry throughout (about 15 min for one round).
# Each commit runs from its own local clone (git clone --shared) with its own debug build, built
# before any timing starts; caches (venvs, terraform, base image) are warm and shared.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=$PWD
before_ref=${1:?usage: bench/demo/run.sh BEFORE_REF [AFTER_REF]}
after_ref=${2:-}
rounds=${BENCH_ROUNDS:-1}
measures=${BENCH_MEASURES:-demo runs}
lock=${BENCH_LOCK:-/tmp/ecs-poc-registry.lock}
cache=${ECS_POC_CACHE:-$HOME/.cache/ecs-poc}
py=$cache/venv/bin/python
out=$cache/bench-demo
mkdir -p "$out"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ecs-poc-bench-demo.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

clone() {  # clone NAME REF -> directory of a checkout of REF
  local dir=$scratch/$1
  git clone --quiet --shared "$here" "$dir"
  git -C "$dir" checkout --quiet --detach "$2"
  echo "$dir"
}

before=$(clone before "$before_ref")
if [ -n "$after_ref" ]; then after=$(clone after "$after_ref"); else after=$here; fi
declare -A dirs=([before]=$before [after]=$after)
# One target dir for both: only this crate recompiles when a side's src/ differs. Each measured run
# is preceded by an untimed build (and virtualenv check) of its side, so those steps inside the
# measured `make demo` are no-ops. Cargo decides whether the crate is fresh by comparing its
# sources' modification times with the last build's, whichever clone that build came from; both
# clones are made before any build, so without the touch the second side would run the first
# side's binary.
target=${CARGO_TARGET_DIR:-$cache/target}
build() {
  find "${dirs[$1]}/src" -name '*.rs' -exec touch {} +
  CARGO_TARGET_DIR=$target make -C "${dirs[$1]}" --no-print-directory build setup-python >>"$out/build-$1.log" 2>&1
}

exec 8>"$lock"
waited=$(date +%s)
flock 8
echo "lock held after $(( $(date +%s) - waited )) s of waiting" >&2
echo "## run $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for side in before after; do
  echo "$side: $(git -C "${dirs[$side]}" log -1 --format='%h %s')$([ "${dirs[$side]}" = "$here" ] && ! git diff --quiet HEAD && echo ' (+ uncommitted changes)')"
  : >"$out/build-$side.log"
done

for round in $(seq "$rounds"); do
  for side in before after; do
    [[ " $measures " == *" demo "* ]] || continue
    log=$out/demo-$side-$round.log
    build "$side"
    start=$(date +%s.%N)
    CARGO_TARGET_DIR=$target make -C "${dirs[$side]}" --no-print-directory demo >"$log" 2>&1
    end=$(date +%s.%N)
    runs=$(grep -oE '^(deploy main|deploy pr-1|destroy pr-1): ok in [0-9]+ s' "$log" | sed 's/: ok in /=/' | paste -sd, -)
    printf 'demo %s round %s: %.0f s (%s)\n' "$side" "$round" "$(echo "$end - $start" | bc)" "$runs"
  done
  for side in before after; do
    [[ " $measures " == *" runs "* ]] || continue
    # Push to main, pull request, no-change rerun, in the e2e world of that side's clone. From
    # that clone's directory: `python -m` (the moto server) puts the working directory first.
    build "$side"
    (cd "${dirs[$side]}" && CARGO_TARGET_DIR=$target PYTHONPATH=${dirs[$side]} \
      "$py" "$here/bench/demo/runs.py" >"$out/runs-$side-$round.out" 2>"$out/runs-$side-$round.log")
    printf 'runs %s round %s: %s\n' "$side" "$round" "$(tail -n 1 "$out/runs-$side-$round.out")"
  done
done
echo "logs: $out"
