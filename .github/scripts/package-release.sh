#!/usr/bin/env bash
# Packs one release binary the way the action's installer expects it (see install-ecs-poc.sh):
#   OUTDIR/ecs-poc-VERSION-TARGET.tar.gz, holding `ecs-poc` (mode 0755), COMMIT (the 40-hex source commit, which
#   the installer compares with an action pinned by commit) and the README at its top level.
# Usage: package-release.sh VERSION TARGET BINARY OUTDIR COMMIT
set -euo pipefail

version=${1:?usage: package-release.sh VERSION TARGET BINARY OUTDIR}
target=${2:?missing TARGET}
binary=${3:?missing BINARY}
outdir=${4:?missing OUTDIR}
commit=${5:?missing COMMIT}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

[[ -x $binary ]] || { echo "package-release: $binary is not an executable" >&2; exit 2; }
[[ $commit =~ ^[0-9a-f]{40}$ ]] || { echo "package-release: COMMIT '$commit' is not a 40-hex commit id" >&2; exit 2; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
install -m 0755 "$binary" "$stage/ecs-poc"
echo "$commit" >"$stage/COMMIT"
for doc in README.md LICENSE; do
  if [[ -f $repo_root/$doc ]]; then
    install -m 0644 "$repo_root/$doc" "$stage/$doc"
  fi
done

mkdir -p "$outdir"
archive=$outdir/ecs-poc-$version-$target.tar.gz
# Fixed owner and order keep the archive free of the build machine's details.
(cd "$stage" && find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
  tar --owner=0 --group=0 --numeric-owner -czf - -T -) >"$archive"
echo "$archive"
