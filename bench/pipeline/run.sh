#!/usr/bin/env bash
# The pipeline benchmark (bench/README.md, section "pipeline"): how soon the rollout wait notices
# steady state (ecs-poc vs the AWS CLI waiter, on the same scripted fake ECS), the binary's peak
# memory through whole deploys, its size, and its `--version` start-up time.
# Usage: bench/pipeline/run.sh   (env: BENCH_ROUNDS=5, BENCH_SKIP_DEPLOY=1 to skip the deploy runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
cache=${ECS_POC_CACHE:-$HOME/.cache/ecs-poc}
py=$cache/venv/bin/python
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/target}
release=${ECS_POC_BINARY:-$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/ecs-poc}
rounds=${BENCH_ROUNDS:-5}
out=$cache/bench-pipeline
mkdir -p "$out"

echo "## run $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "### wait: ecs-poc (poll 5 s), $rounds rounds"
cargo test --quiet --test stage_ecs bench_wait_notice_latency -- --ignored --nocapture 2>"$out/wait.log" \
  | grep '^{' | tee "$out/wait-ecs-poc.json"

echo "### wait: aws ecs wait services-stable (poll 15 s), 3 rounds + a rolled-back deploy"
if ! command -v aws >/dev/null; then
  "$py" -m pip install -q awscli >&2
  export PATH=$cache/venv/bin:$PATH
fi
"$py" bench/pipeline/cli_waiter.py --rounds 3 2>>"$out/wait.log" | tee "$out/wait-aws-cli.json"

if [ ! -x "$release" ]; then
  echo "no release binary at $release: building it (make build-release)" >&2
  make build-release >&2
fi
echo "### binary"
size=$(stat -c %s "$release")
echo "size: $size bytes ($(( size / 1024 / 1024 )) MiB), $(file -b "$release" | cut -d, -f1-2)"
echo "### --version start-up"
if command -v hyperfine >/dev/null; then
  hyperfine --warmup 3 --runs 50 -N "$release --version" --export-json "$out/version.json" | sed -n '2,3p'
else
  start=$(date +%s%N)
  for _ in $(seq 50); do "$release" --version >/dev/null; done
  echo "mean over 50 runs: $(( ($(date +%s%N) - start) / 50 / 1000 )) µs (no hyperfine: apt-get install hyperfine)"
fi

if [ "${BENCH_SKIP_DEPLOY:-0}" != 1 ]; then
  echo "### peak RSS of the binary through whole deploys (e2e world, VmHWM sampled)"
  ECS_POC_BINARY=$release PYTHONPATH=. "$py" bench/pipeline/deploy_rss.py 2>"$out/deploy.log" | tee "$out/deploy.json"
fi
