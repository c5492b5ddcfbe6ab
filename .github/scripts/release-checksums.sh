#!/usr/bin/env bash
# Writes DIR/sha256.sum for every release archive in DIR, in the `sha256sum` format the installer verifies.
# Usage: release-checksums.sh DIR
set -euo pipefail

dir=${1:?usage: release-checksums.sh DIR}
cd "$dir"
shopt -s nullglob
archives=(ecs-poc-*.tar.gz)
if [[ ${#archives[@]} -eq 0 ]]; then
  echo "release-checksums: no ecs-poc-*.tar.gz in $dir" >&2
  exit 2
fi
sha256sum "${archives[@]}" >sha256.sum
cat sha256.sum
