"""Where Terraform gets its AWS provider on this machine, and the CLI config that says so.

Three honest cases, reported by `provider_source()`:
- "mirror": a filesystem mirror holds hashicorp/aws (this image carries 5.100 in /opt/tf-plugins);
- "registry": no mirror, but registry.terraform.io answers, so `terraform init` downloads it;
- "none": neither. Anything that needs the provider (validate, plan, apply) must then be
  reported as SKIPPED by the caller, never passed silently.

`python -m tests.harness.terraform_env write-config` writes the CLI config and prints the source.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path

AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
DEFAULT_MIRROR = "/opt/tf-plugins"


def cache_dir() -> Path:
    """The project's cache outside the clone (same default as the Makefile's CACHE)."""
    return Path(os.environ.get("ECS_POC_CACHE", Path.home() / ".cache" / "ecs-poc"))


def mirror_dir() -> Path:
    return Path(os.environ.get("ECS_POC_TF_PLUGIN_MIRROR", DEFAULT_MIRROR))


def mirror_versions(mirror: Path | None = None) -> list[str]:
    """Versions of hashicorp/aws for linux_amd64 present in the mirror (unpacked or zipped layout)."""
    base = (mirror or mirror_dir()) / AWS_PROVIDER
    if not base.is_dir():
        return []
    found = {p.name for p in base.iterdir() if (p / "linux_amd64").is_dir()}
    found |= {
        p.name.split("_")[1]
        for p in base.glob("terraform-provider-aws_*_linux_amd64.zip")
    }
    return sorted(found)


def registry_reachable(timeout: float = 5.0) -> bool:
    url = "https://registry.terraform.io/.well-known/terraform.json"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return bool(resp.status == 200)
    except (TimeoutError, OSError):
        return False


def provider_source() -> str:
    """'mirror', 'registry' or 'none' (see the module docstring)."""
    forced = os.environ.get("ECS_POC_TF_PROVIDER_SOURCE")
    if forced in {"mirror", "registry", "none"}:
        # Lets CI prove the SKIPPED path on a machine that does have a provider.
        return forced
    if mirror_versions():
        return "mirror"
    if registry_reachable():
        return "registry"
    return "none"


def cli_config_text(source: str) -> str:
    if source == "mirror":
        mirror = mirror_dir()
        return (
            "# Written by tests/harness/terraform_env.py: hashicorp/aws from the local mirror,\n"
            "# every other provider from its registry.\n"
            "provider_installation {\n"
            f'  filesystem_mirror {{\n    path    = "{mirror}"\n    include = ["{AWS_PROVIDER}"]\n  }}\n'
            f'  direct {{\n    exclude = ["{AWS_PROVIDER}"]\n  }}\n'
            "}\n"
        )
    return (
        "# Written by tests/harness/terraform_env.py: no local mirror, providers from the registry.\n"
        "provider_installation {\n  direct {}\n}\n"
    )


def write_cli_config(source: str | None = None) -> Path:
    """Write (idempotently) the CLI config for this machine and return its path."""
    src = source or provider_source()
    path = cache_dir() / "terraform" / "cli.tfrc"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = cli_config_text(src)
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


def plugin_cache_dir() -> Path:
    path = cache_dir() / "terraform" / "plugin-cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def terraform_env(source: str | None = None) -> dict[str, str]:
    """Environment variables every terraform child of the harness gets (no AWS settings here)."""
    return {
        "TF_CLI_CONFIG_FILE": str(write_cli_config(source)),
        "TF_IN_AUTOMATION": "true",
        "CHECKPOINT_DISABLE": "true",
        "TF_PLUGIN_CACHE_DIR": str(plugin_cache_dir()),
        "TF_INPUT": "false",
    }


def main(argv: list[str]) -> int:
    if argv[:1] != ["write-config"]:
        print("usage: python -m tests.harness.terraform_env write-config", file=sys.stderr)
        return 2
    source = provider_source()
    path = write_cli_config(source)
    print(f"terraform CLI config: {path}")
    if source == "mirror":
        print(f"hashicorp/aws: local mirror {mirror_dir()} (versions {', '.join(mirror_versions())})")
    elif source == "registry":
        print("hashicorp/aws: registry.terraform.io (no local mirror)")
    else:
        print(
            "WARNING: no hashicorp/aws provider available (no mirror at "
            f"{mirror_dir()}, registry unreachable): validate/plan/apply will be SKIPPED"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
