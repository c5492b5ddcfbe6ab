#!/usr/bin/env bash
# Creates (or refreshes) a virtualenv outside the clone and installs a requirements file into it.
# Usage: setup-python.sh VENV_DIR REQUIREMENTS_FILE
set -euo pipefail
venv=$1 requirements=$2
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
fi
"$venv/bin/pip" install --quiet -r "$requirements"
