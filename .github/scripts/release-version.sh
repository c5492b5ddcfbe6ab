#!/usr/bin/env bash
# Prints the release version for a tag (v1.2.3 -> 1.2.3) after checking that Cargo.toml carries the same version.
# The action's installer relies on this: a major tag (v1) or a commit is resolved through the Cargo.toml version,
# so a release whose tag and Cargo.toml disagree would make the action fetch the wrong binary.
# Usage: release-version.sh TAG [CARGO_TOML]
set -euo pipefail

tag=${1:?usage: release-version.sh TAG [CARGO_TOML]}
manifest=${2:-Cargo.toml}

if [[ ! $tag =~ ^v([0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?)$ ]]; then
  echo "release-version: tag '$tag' is not a release tag like v1.2.3" >&2
  exit 2
fi
version=${BASH_REMATCH[1]}

cargo_version=$(awk '
  /^\[/ { in_package = ($0 == "[package]") }
  in_package && /^version[[:space:]]*=/ { sub(/^version[[:space:]]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit }
' "$manifest")

if [[ $cargo_version != "$version" ]]; then
  echo "release-version: tag $tag but $manifest says version \"$cargo_version\"; bump Cargo.toml (and Cargo.lock) to $version, then tag that commit" >&2
  exit 2
fi
echo "$version"
