#!/usr/bin/env bash
# Installs the ecs-poc binary for the action (action.yml) and prints where it is.
#
# Which binary:
#   1. ECS_POC_INSTALL_VERSION set (the action's `version` input): that release, or an error if it does not exist.
#   2. else the action's ref (ECS_POC_INSTALL_ACTION_REF = github.action_ref):
#        vX.Y.Z                      -> release vX.Y.Z
#        vX, vX.Y or a 40-hex commit -> the release named by the version in the action's own Cargo.toml
#                                       (release.yml only tags commits whose Cargo.toml carries the tag's version);
#                                       for a commit, only if the release's COMMIT file names that commit
#        a branch, empty (`uses: ./`) -> no release: build from the action's source
#      An implied release that does not exist (404), or that has no asset for this runner, is built from source too.
#
# Release layout (what release.yml publishes), under BASE/vVERSION/:
#   ecs-poc-VERSION-TARGET.tar.gz   holding the executable `ecs-poc` and a COMMIT file (the source commit) at its
#                                   top level
#   sha256.sum                      `sha256sum` lines for every archive of the release
# TARGET is x86_64-unknown-linux-musl or aarch64-unknown-linux-musl (static binaries).
#
# The archive is checked against sha256.sum before it is unpacked; on a mismatch nothing is unpacked or run.
#
# The action's own repository and ref come from where the runner unpacked it, GITHUB_ACTION_PATH =
# .../_actions/OWNER/NAME/REF, first: inside a composite action nested in another, github.action_ref and
# github.action_repository name the outer action, not this one. They are the fallback for a path of another shape.
#
# Before anything is downloaded the runner is checked: ecs-poc runs on Linux only, and a deploy needs docker.
#
# Environment (inputs only through here, never interpolated into the script):
#   GITHUB_ACTION_PATH           the action's directory as the runner unpacked it
#   ECS_POC_INSTALL_VERSION      explicit release, "1.2.3" or "v1.2.3" (optional)
#   ECS_POC_INSTALL_ACTION_REF   github.action_ref (fallback when the action's path does not name the ref)
#   ECS_POC_INSTALL_REPOSITORY   github.action_repository, owner/name (same fallback)
#   ECS_POC_INSTALL_SOURCE_DIR   the action's source (default: GITHUB_ACTION_PATH, else two levels above this script)
#   ECS_POC_INSTALL_BASE_URL     release download base (default $GITHUB_SERVER_URL/OWNER/NAME/releases/download,
#                                GITHUB_SERVER_URL defaulting to https://github.com); for mirrors and tests
#   ECS_POC_INSTALL_TOKEN        token sent with downloads from GITHUB_SERVER_URL (never to another host)
#   ECS_POC_INSTALL_COMMAND      the action's command input: decides, with the event, whether docker is needed
#   ECS_POC_DOCKER               the docker client the binary will use (default docker)
#   ECS_POC_INSTALL_DIR          where to put the binary (default $RUNNER_TEMP/ecs-poc/bin)
#   RUNNER_OS, RUNNER_ARCH       the runner's platform (default: from uname)
#   GITHUB_OUTPUT                receives bin=, version=, source= (release|source-build)
# Exit codes: 0 installed; 2 bad input or unsuitable runner; 5 download, checksum or build failure.
set -euo pipefail

log() { printf 'ecs-poc install: %s\n' "$*" >&2; }
fail() {
  local code=$1
  shift
  # An annotation inside Actions, a plain line elsewhere; the same text either way.
  if [ -n "${GITHUB_ACTIONS:-}" ]; then
    printf '::error title=ecs-poc install::%s\n' "$*" >&2
  else
    printf 'ecs-poc install: error: %s\n' "$*" >&2
  fi
  exit "$code"
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=${ECS_POC_INSTALL_SOURCE_DIR:-${GITHUB_ACTION_PATH:-$(cd "$script_dir/../.." && pwd)}}
explicit_version=${ECS_POC_INSTALL_VERSION:-}
action_ref=${ECS_POC_INSTALL_ACTION_REF:-}
repository=${ECS_POC_INSTALL_REPOSITORY:-}
install_dir=${ECS_POC_INSTALL_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ecs-poc/bin}
server_url=${GITHUB_SERVER_URL:-https://github.com}
server_url=${server_url%/}

# The runner unpacks a remote action under _actions/OWNER/NAME/REF (a local one, uses: ./, lives elsewhere). That
# path is right even where github.action_ref is not (nested composite actions, actions/runner#2473).
action_path=${GITHUB_ACTION_PATH:-$source_dir}
if [[ $action_path =~ /_actions/([^/]+)/([^/]+)/([^/]+)/?$ ]]; then
  path_repository=${BASH_REMATCH[1]}/${BASH_REMATCH[2]}
  path_ref=${BASH_REMATCH[3]}
  if [[ -n $action_ref && $action_ref != "$path_ref" ]] || [[ -n $repository && $repository != "$path_repository" ]]; then
    log "the runner says ${repository:-?}@${action_ref:-?}, the action's path says $path_repository@$path_ref: using the path"
  fi
  repository=$path_repository
  action_ref=$path_ref
  log "action: $repository@$action_ref (from its path)"
fi

# Sets `platform` (for messages) and `target` (the release target, empty when none is published for it).
detect_platform() {
  local os=${RUNNER_OS:-} arch=${RUNNER_ARCH:-}
  if [ -z "$os" ]; then
    case "$(uname -s)" in
      Linux) os=Linux ;;
      Darwin) os=macOS ;;
      *) os=$(uname -s) ;;
    esac
  fi
  if [ -z "$arch" ]; then
    case "$(uname -m)" in
      x86_64 | amd64) arch=X64 ;;
      aarch64 | arm64) arch=ARM64 ;;
      *) arch=$(uname -m) ;;
    esac
  fi
  runner_os=$os
  platform="$os $arch"
  case "$os/$arch" in
    Linux/X64) target=x86_64-unknown-linux-musl ;;
    Linux/ARM64) target=aarch64-unknown-linux-musl ;;
    *) target="" ;;
  esac
}

# Whether this run builds an image: an explicit deploy, or no command on an event that deploys (the binary's rule:
# pull_request other than closed, and push).
needs_docker() {
  case "${ECS_POC_INSTALL_COMMAND:-}" in
    deploy) return 0 ;;
    "") ;;
    *) return 1 ;;
  esac
  case "${GITHUB_EVENT_NAME:-}" in
    push) return 0 ;;
    pull_request | pull_request_target)
      local action=""
      if [ -n "${GITHUB_EVENT_PATH:-}" ] && [ -f "${GITHUB_EVENT_PATH}" ]; then
        # The payload's top-level "action" comes first in GitHub's event files.
        action=$(grep -o '"action"[[:space:]]*:[[:space:]]*"[a-z_]*"' "$GITHUB_EVENT_PATH" | sed -n '1s/.*"\([a-z_]*\)"$/\1/p') || true
      fi
      [ "$action" != closed ]
      ;;
    *) return 1 ;;
  esac
}

detect_platform
if [ "$runner_os" != Linux ]; then
  fail 2 "ecs-poc runs on Linux runners only; this runner is $platform. Use runs-on: ubuntu-24.04 (or another Linux runner) for this job."
fi
missing=()
for tool in curl tar; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if needs_docker; then
  docker_client=${ECS_POC_DOCKER:-docker}
  command -v "$docker_client" >/dev/null 2>&1 || missing+=("$docker_client (the image is built and pushed with it)")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  fail 2 "this runner lacks what ecs-poc needs: ${missing[*]}. Install it before this step or use a GitHub-hosted ubuntu runner, which has it."
fi

# The package version from the action's Cargo.toml ([package] table only).
cargo_toml_version() {
  local manifest=$source_dir/Cargo.toml
  [ -f "$manifest" ] || return 0
  awk '
    /^\[/ { in_package = ($0 == "[package]") }
    in_package && /^version[[:space:]]*=/ {
      sub(/^version[[:space:]]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
    }
  ' "$manifest"
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | awk '{print $1}'
  else
    shasum -a 256 "$1" | awk '{print $1}'
  fi
}

# Downloads URL to FILE; prints the HTTP status (000 when nothing answered). Never fails by itself so the
# caller can tell "no such release" (404) from a broken download. The token goes only to the GitHub server the
# run belongs to, through curl's config on stdin (never on a command line); curl drops it on a redirect to
# another host (release assets are served from a storage host).
fetch() {
  local url=$1 file=$2 status header=""
  local -a proto=()
  # Release downloads over HTTPS never leave HTTPS, redirects included.
  case "$url" in https://*) proto=(--proto "=https" --proto-redir "=https") ;; esac
  if [ -n "${ECS_POC_INSTALL_TOKEN:-}" ] && [[ $url == "$server_url"/* ]]; then
    header="header = \"Authorization: Bearer ${ECS_POC_INSTALL_TOKEN}\""
  fi
  status=$(printf '%s\n' "$header" | curl --config - --silent --show-error --location --retry 3 --retry-delay 1 \
    --connect-timeout 20 ${proto[@]+"${proto[@]}"} --output "$file" --write-out '%{http_code}' "$url") || true
  echo "${status:-000}"
}

emit_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}

finish() {
  local bin=$1 version=$2 source=$3
  emit_output bin "$bin"
  emit_output version "$version"
  emit_output source "$source"
  log "ready: $bin ($source, version $version)"
  echo "$bin"
  exit 0
}

build_from_source() {
  local why=$1
  log "building from source: $why"
  log "running cargo build --release --locked in $source_dir (this takes a few minutes; a release ref downloads in seconds)"
  if [ -n "${GITHUB_ACTIONS:-}" ]; then
    printf '::notice title=ecs-poc built from source::%s\n' "$why" >&2
  fi
  [ -f "$source_dir/Cargo.toml" ] || fail 5 "cannot build from source: no Cargo.toml in $source_dir"
  command -v cargo >/dev/null 2>&1 ||
    fail 5 "cannot build from source: cargo is not on PATH. Install Rust (rustup) on the runner, or use a released version of the action (e.g. @v1)."
  local target_dir=${CARGO_TARGET_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/ecs-poc/target}
  CARGO_TARGET_DIR=$target_dir cargo build --release --locked --manifest-path "$source_dir/Cargo.toml" >&2 ||
    fail 5 "cargo build --release --locked failed in $source_dir (see the output above)"
  [ -x "$target_dir/release/ecs-poc" ] || fail 5 "cargo finished but $target_dir/release/ecs-poc is missing"
  mkdir -p "$install_dir"
  cp "$target_dir/release/ecs-poc" "$install_dir/ecs-poc"
  finish "$install_dir/ecs-poc" "$(cargo_toml_version)-source" source-build
}

# Which release, and whether one must exist.
version="" required=false
if [ -n "$explicit_version" ]; then
  version=${explicit_version#v}
  required=true
elif [[ $action_ref =~ ^v([0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?)$ ]]; then
  version=${BASH_REMATCH[1]}
elif [[ $action_ref =~ ^v[0-9]+(\.[0-9]+)?$ || $action_ref =~ ^[0-9a-f]{40}$ ]]; then
  version=$(cargo_toml_version)
  [ -n "$version" ] || build_from_source "the action's ref '$action_ref' names no version and $source_dir/Cargo.toml has none"
elif [ -z "$action_ref" ]; then
  build_from_source "the action runs from a local path (uses: ./...), which has no release"
else
  build_from_source "the action's ref '$action_ref' is a branch or other ref with no release"
fi

[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] ||
  fail 2 "version '$version' is not a release version such as 1.2.3 (input 'version' takes 1.2.3 or v1.2.3)"

if [ -z "$target" ]; then
  if $required; then
    fail 5 "release v$version has no binary for $platform (published: Linux X64, Linux ARM64); leave 'version' empty to build from source"
  fi
  build_from_source "no release binary is published for $platform"
fi

base_url=${ECS_POC_INSTALL_BASE_URL:-}
if [ -z "$base_url" ]; then
  [ -n "$repository" ] || fail 2 "ECS_POC_INSTALL_REPOSITORY (owner/name of the action) or ECS_POC_INSTALL_BASE_URL must be set"
  base_url=$server_url/$repository/releases/download
fi
base_url=${base_url%/}
asset=ecs-poc-$version-$target.tar.gz
release_url=$base_url/v$version

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

log "downloading $asset from $release_url"
status=$(fetch "$release_url/sha256.sum" "$work/sha256.sum")
case "$status" in
  200) ;;
  404)
    if $required; then
      fail 5 "release v$version not found at $release_url (sha256.sum: HTTP 404). Check the 'version' input."
    fi
    build_from_source "release v$version does not exist (yet) at $release_url"
    ;;
  *) fail 5 "could not download $release_url/sha256.sum (HTTP $status); retry the job, or set 'version' to another release" ;;
esac

expected=$(awk -v name="$asset" '{ file = $2; sub(/^\*/, "", file) } file == name { print $1; exit }' "$work/sha256.sum")
if [ -z "$expected" ]; then
  if $required; then
    fail 5 "release v$version publishes no $asset (not listed in sha256.sum)"
  fi
  build_from_source "release v$version publishes no binary for $platform ($asset is not in sha256.sum)"
fi
[[ $expected =~ ^[0-9a-fA-F]{64}$ ]] || fail 5 "sha256.sum of v$version has a malformed line for $asset"

status=$(fetch "$release_url/$asset" "$work/$asset")
[ "$status" = 200 ] || fail 5 "could not download $release_url/$asset (HTTP $status) although sha256.sum lists it; retry the job"

actual=$(sha256_of "$work/$asset")
expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
if [ "$actual" != "$expected" ]; then
  fail 5 "checksum mismatch for $asset: sha256.sum says $expected, the download is $actual. Nothing was installed or run. Retry the job; if it persists, the release is damaged or tampered with: report it."
fi
log "sha256 verified: $actual"

mkdir -p "$work/unpacked"
tar -xzf "$work/$asset" -C "$work/unpacked" || fail 5 "$asset is not a readable .tar.gz"
[[ -f $work/unpacked/ecs-poc ]] || fail 5 "$asset does not contain an 'ecs-poc' executable at its top level"

# A commit ref gets the release only if the release was built from that very commit (its COMMIT file says which);
# an unreleased commit that merely carries a released version number gets its own code, built from source.
if [[ -z $explicit_version && $action_ref =~ ^[0-9a-f]{40}$ ]]; then
  built_from=$(head -n 1 "$work/unpacked/COMMIT" 2>/dev/null || true)
  if [[ $built_from != "$action_ref" ]]; then
    build_from_source "release v$version was built from commit ${built_from:-unknown}, not from the action's commit $action_ref"
  fi
fi
mkdir -p "$install_dir"
install -m 0755 "$work/unpacked/ecs-poc" "$install_dir/ecs-poc"
finish "$install_dir/ecs-poc" "$version" release
