#!/usr/bin/env bash
# Makes the local stand-in for the Dockerfile's default base image (an official python slim
# image), since no registry can be pulled from here: a Debian bookworm rootfs from debootstrap,
# imported into the local engine. Prints ONLY the image reference on stdout (progress goes to
# stderr), so callers can write BASE=$(bash .ci/base-image.sh).
#
# The tag is a hash of the recipe (suite, packages, the rootfs steps' version, the image config)
# and of the host CA bundle baked into the image, so the image is rebuilt only when one changes;
# editing comments in this script does not force a new debootstrap. The rootfs tarball is kept under the cache too: if the
# engine loses its images, re-importing takes seconds instead of a new debootstrap.
# Env: ECS_POC_CACHE (cache dir), DOCKER (client, default docker), DEBIAN_MIRROR.
set -euo pipefail

cache=${ECS_POC_CACHE:-${HOME}/.cache/ecs-poc}
client=${DOCKER:-docker}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
# python-is-python3 gives `python`, and python3-venv the venv module, as the official image has.
packages=python3,python3-venv,python3-pip,python-is-python3,ca-certificates
ca_bundle=/etc/ssl/certs/ca-certificates.crt
name=ecs-poc/base
# Bump when the rootfs steps below change in a way the other inputs do not show.
rootfs_steps=1
image_config=(
  "ENV LANG=C.UTF-8"
  "ENV PIP_CERT=$ca_bundle"
  "ENV SSL_CERT_FILE=$ca_bundle"
  "ENV REQUESTS_CA_BUNDLE=$ca_bundle"
  'CMD ["python3"]'
)

log() { echo "base-image: $*" >&2; }

[ -r "$ca_bundle" ] || { log "host CA bundle $ca_bundle is missing (install ca-certificates)"; exit 1; }
recipe_hash=$( { printf '%s\n' "$suite" "$packages" "$rootfs_steps" "${image_config[@]}"; cat "$ca_bundle"; } \
  | sha256sum | cut -c1-12)
ref=$name:$suite-$recipe_hash
dir=$cache/base-image
tarball=$dir/rootfs-$recipe_hash.tar

image_present() { "$client" image inspect "$ref" >/dev/null 2>&1; }

# Callers need not start the engine first; its messages go to stderr like ours.
bash "$(dirname "${BASH_SOURCE[0]}")/setup-docker.sh"

if image_present; then
  echo "$ref"
  exit 0
fi

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if image_present; then
  echo "$ref"
  exit 0
fi

if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { log "debootstrap not found; run .ci/install-system-packages.sh"; exit 1; }
  rootfs=$(mktemp -d "$dir/rootfs.XXXXXX")
  trap 'rm -rf "$rootfs" "$tarball.partial"' EXIT
  log "debootstrap $suite into $rootfs (about a minute)"
  debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$dir/debootstrap.log" 2>&1 \
    || { log "debootstrap failed; see $dir/debootstrap.log"; tail -n 20 "$dir/debootstrap.log" >&2; exit 1; }
  # Containers reach PyPI only through this machine's TLS interception, so the host CA bundle
  # replaces the image's; the ENV below points pip, requests and OpenSSL at it.
  install -m 0644 "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
  # The official image lets pip install into the system interpreter; Debian's PEP 668 marker would not.
  rm -f "$rootfs"/usr/lib/python3*/EXTERNALLY-MANAGED
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
  tar --numeric-owner -C "$rootfs" -cf "$tarball.partial" .
  mv "$tarball.partial" "$tarball"
  rm -rf "$rootfs"
  trap - EXIT
  # Older tarballs belong to previous recipes.
  find "$dir" -maxdepth 1 -name 'rootfs-*.tar' ! -name "rootfs-$recipe_hash.tar" -delete
fi

log "importing $tarball as $ref"
changes=()
for change in "${image_config[@]}"; do changes+=(--change "$change"); done
"$client" import "${changes[@]}" - "$ref" <"$tarball" >/dev/null
echo "$ref"
