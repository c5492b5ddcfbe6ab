#!/usr/bin/env bash
# Benchmark of the service image: wrk on loopback at 1, 16 and 64 connections against
#   gunicorn  - the image as shipped (gthread workers sized from the container's CPUs)
#   flask-run - the same image running Flask's development server (the naive baseline)
# in the same run. Prints a markdown table (stdout) for bench/README.md; progress on stderr.
# Env: DOCKER (client), BENCH_DURATION (per round, default 5s), BENCH_ROUNDS (default 3),
#   BENCH_PATH (default /),
#   BENCH_VIA: bridge (default: the container's own address, as an ALB reaches a bridge-mode task
#   through the kernel's NAT) or port (the published 127.0.0.1 port, through Docker's userland proxy).
set -euo pipefail
cd "$(dirname "$0")/../.."

client=${DOCKER:-docker}
duration=${BENCH_DURATION:-5s}
path=${BENCH_PATH:-/}
via=${BENCH_VIA:-bridge}
image=ecs-poc/app:bench
label=ecs-poc.bench=app
log() { echo "bench-app: $*" >&2; }

command -v wrk >/dev/null || { log "wrk not found; run .ci/install-system-packages.sh"; exit 1; }
bash .ci/setup-docker.sh
base=$(bash .ci/base-image.sh)
log "building $image on $base"
"$client" build --quiet --tag "$image" --build-arg BASE_IMAGE="$base" --build-arg APP_VERSION=bench . >/dev/null

containers=()
cleanup() { [ ${#containers[@]} -eq 0 ] || "$client" rm --force "${containers[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# start [COMMAND...]: runs the image hardened, published on an ephemeral loopback port; sets $cid and $url
start() {
  cid=$("$client" run --detach --label "$label" --read-only --tmpfs /tmp --cap-drop ALL \
    --publish 127.0.0.1::8000 "$image" "$@")
  containers+=("$cid")
  if [ "$via" = port ]; then
    url=http://127.0.0.1:$("$client" port "$cid" 8000/tcp | head -n 1 | sed 's/.*://')
  else
    url=http://$("$client" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$cid"):8000
  fi
  for _ in $(seq 100); do
    wrk -c1 -t1 -d1s "$url/healthz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  log "container did not answer:"; "$client" logs "$cid" >&2; return 1
}

# Memory as the kernel accounts it for the container's cgroup (v1 here, v2 elsewhere), in MiB.
memory_mib() {
  local id=$1 file
  for file in "/sys/fs/cgroup/memory/docker/$id/memory.$2" "/sys/fs/cgroup/system.slice/docker-$id.scope/memory.${3:-$2}"; do
    if [ -r "$file" ]; then awk '{ printf "%.1f", $1 / 1048576 }' "$file"; return; fi
  done
  echo "n/a"
}

# wrk's latency is printed with a unit (us, ms, s); normalise to ms.
to_ms() { awk '{ v = $1 + 0; if ($1 ~ /us$/) v /= 1000; else if ($1 ~ /[0-9]s$/ && $1 !~ /ms$/) v *= 1000; printf "%.2f", v }'; }

# Both servers run for the whole benchmark and take turns at each point, so background load on
# this shared machine falls on both alike.
start
declare -A url_of cid_of
url_of[gunicorn]=$url cid_of[gunicorn]=$cid
start flask --app hello_world run --host 0.0.0.0 --port 8000
url_of[flask-run]=$url cid_of[flask-run]=$cid

rounds=${BENCH_ROUNDS:-3}
# median of the numbers given as arguments
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

echo "Run $(date -u +%FT%TZ), $(nproc) CPUs, load average before: $(cut -d' ' -f1-3 /proc/loadavg), via $via," \
  "$rounds rounds of $duration per point, medians shown (range of requests/s in parentheses)."
echo
echo "| connections | server | requests/s | p50 ms | p99 ms | errors | memory MiB (now / peak) |"
echo "|---|---|---|---|---|---|---|"
for conns in 1 16 64; do
  # One wrk thread generates far more load than one Python process can serve, and leaves the
  # second core to the server: two would make the client compete with the server it measures.
  threads=1
  declare -A rps_all=() p50_all=() p99_all=() err_all=()
  for round in $(seq "$rounds"); do
    for server in gunicorn flask-run; do
      target=${url_of[$server]}$path
      [ "$round" -gt 1 ] || wrk -c "$conns" -t "$threads" -d 2s "$target" >/dev/null 2>&1  # warm-up
      log "$server, $conns connections, round $round, $duration"
      out=$(wrk -c "$conns" -t "$threads" -d "$duration" --latency "$target")
      rps_all[$server]+="$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$out") "
      p50_all[$server]+="$(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms) "
      p99_all[$server]+="$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms) "
      err_all[$server]+=$(awk '/Socket errors|Non-2xx/ { printf "%s; ", $0 }' <<<"$out")
    done
  done
  for server in gunicorn flask-run; do
    # shellcheck disable=SC2086 # word splitting of the collected numbers is intended
    {
      rps=$(median ${rps_all[$server]}); p50=$(median ${p50_all[$server]}); p99=$(median ${p99_all[$server]})
      range="$(printf '%s\n' ${rps_all[$server]} | sort -g | head -n 1)-$(printf '%s\n' ${rps_all[$server]} | sort -g | tail -n 1)"
    }
    id=${cid_of[$server]}
    mem="$(memory_mib "$id" usage_in_bytes current) / $(memory_mib "$id" max_usage_in_bytes peak)"
    echo "| $conns | $server | $rps ($range) | $p50 | $p99 | ${err_all[$server]:-0} | $mem |"
  done
done
echo
echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
