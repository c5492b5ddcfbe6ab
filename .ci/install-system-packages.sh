#!/usr/bin/env bash
# The Debian packages that `make demo`, `make test` and the benchmarks need: the Docker engine
# (docker.io), the registry that answers as ECR (docker-registry, with apache2-utils for htpasswd,
# openssl and curl), debootstrap for the local base image, python3-venv for the tools' virtualenvs,
# and wrk for the app benchmark.
#
# Idempotent: when everything is installed it only asks dpkg (a few milliseconds). As root it
# installs what is missing with apt-get. As any other user it changes nothing: it names the
# missing packages and the one command that installs them, and exits 1.
# Usage: install-system-packages.sh [--check]   (--check: report only, exit 1 when something is missing)
set -euo pipefail

packages=(docker.io docker-registry debootstrap wrk apache2-utils openssl curl python3-venv)
self="${BASH_SOURCE[0]}"

check_only=0
case ${1:-} in
  --check) check_only=1 ;;
  "") ;;
  *) echo "usage: $self [--check]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "system packages: this is not a Debian-like system (no dpkg/apt-get); install the equivalents of:" >&2
  echo "  ${packages[*]}" >&2
  exit 1
fi

missing=()
installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
for p in "${packages[@]}"; do
  grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$check_only" = 1 ] || [ "$(id -u)" -ne 0 ]; then
  echo "system packages: missing Debian packages: ${missing[*]}" >&2
  echo "  install them once, as root:  sudo bash $self" >&2
  echo "  (it runs: apt-get update && apt-get install --no-install-recommends ${missing[*]})" >&2
  exit 1
fi

echo "system packages: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed ${missing[*]}" >&2
