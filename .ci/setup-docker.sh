#!/usr/bin/env bash
# Makes sure a Docker engine answers on the default socket, starting Debian's dockerd in the
# background when none does. Idempotent and safe to run from several scripts at once: the
# machine has one shared daemon, so callers serialise on a lock and never start a second one.
# Usage: setup-docker.sh   (env: ECS_POC_CACHE for the log directory, DOCKER_WAIT_SECONDS)
set -euo pipefail
# shellcheck source=.ci/detach.sh
source "$(dirname "$0")/detach.sh"

cache=${ECS_POC_CACHE:-${HOME}/.cache/ecs-poc}
wait_seconds=${DOCKER_WAIT_SECONDS:-60}
log=$cache/dockerd.log
# Debian's client speaks to dockerd 20.10 natively; any client works for a ping.
client=${DOCKER:-docker}

answers() { "$client" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if answers; then
  exit 0
fi

mkdir -p "$cache"
if ! command -v dockerd >/dev/null 2>&1; then
  echo "setup-docker: dockerd not found; run .ci/install-system-packages.sh (Debian docker.io) first" >&2
  exit 1
fi

exec 9>"$cache/dockerd.lock"
flock 9
# Someone else may have started it while we waited for the lock.
if ! answers; then
  pidfile=/var/run/docker.pid
  if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "setup-docker: dockerd (pid $(cat "$pidfile")) is starting; waiting" >&2
  else
    echo "setup-docker: starting dockerd in the background (log: $log)" >&2
    # Detached: the daemon outlives this script and the make run that called it, and holds none
    # of their descriptors (locks included).
    detach dockerd >>"$log" 2>&1
  fi
  deadline=$(( $(date +%s) + wait_seconds ))
  until answers; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "setup-docker: no Docker engine answered within ${wait_seconds}s; last lines of $log:" >&2
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
fi
echo "setup-docker: engine $("$client" version --format '{{.Server.Version}}') is up" >&2
