"""A local stand-in for terraform's and OpenTofu's release sites: zips, SHA256SUMS, and a detached gpg signature.

Files are laid out as releases.hashicorp.com lays them out (`terraform/V/terraform_V_linux_ARCH.zip`,
`terraform_V_SHA256SUMS`, `terraform_V_SHA256SUMS.sig`) and as OpenTofu's GitHub releases do
(`vV/tofu_V_linux_ARCH.zip`, `tofu_V_SHA256SUMS`, `tofu_V_SHA256SUMS.gpgsig`). A throwaway gpg key made per test
session signs the checksums in place of HashiCorp's, whose real key the installer uses by default.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SigningKey:
    """A gpg home holding one secret key, and that key's armored public half."""

    home: Path
    public: Path
    fingerprint: str

    def sign(self, data: bytes) -> bytes:
        """A detached binary signature of `data`, the form of HashiCorp's `_SHA256SUMS.sig`."""
        proc = subprocess.run(
            ["gpg", "--batch", "--yes", "--homedir", str(self.home), "--local-user", self.fingerprint,
             "--detach-sign", "--output", "-"],
            input=data, capture_output=True, timeout=60, check=True,
        )  # fmt: skip
        return proc.stdout

    def close(self) -> None:
        """Stops the gpg-agent that key generation and signing started for this home."""
        subprocess.run(["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"], capture_output=True,
                       timeout=30, check=False)  # fmt: skip


def make_signing_key(directory: Path, name: str = "ecs-poc test releases") -> SigningKey:
    """Generates an ed25519 signing key without a passphrase in a private gpg home under `directory`."""
    home = directory / f"gnupg-{abs(hash(name)) % 10_000}"
    home.mkdir(mode=0o700, parents=True)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(
        ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", f"{name} <releases@example.invalid>", "ed25519",
         "sign", "never"],
        env=env, capture_output=True, timeout=120, check=True,
    )  # fmt: skip
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env, capture_output=True, text=True, check=True
    ).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))
    public = directory / f"{home.name}.asc"
    exported = subprocess.run(
        ["gpg", "--batch", "--armor", "--export", fingerprint], env=env, capture_output=True, check=True
    ).stdout
    public.write_bytes(exported)
    return SigningKey(home=home, public=public, fingerprint=fingerprint)


def zip_with(name: str, executable: bytes) -> bytes:
    """A release zip holding one executable at its top level (and a licence file, as the real ones do)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(name)
        info.external_attr = 0o755 << 16
        zf.writestr(info, executable)
        zf.writestr("LICENSE.txt", "test licence\n")
    return buf.getvalue()


def fake_terraform(product: str, version: str, marker_env: str = "ECS_POC_FAKE_TF_MARKER") -> bytes:
    """An executable that answers `version` like terraform or tofu, and leaves a mark whenever it runs."""
    return (
        "#!/bin/sh\n"
        f'[ -z "${{{marker_env}:-}}" ] || echo "{product} {version} $*" >> "${{{marker_env}}}"\n'
        f'[ "$1" = version ] && echo "{product} v{version}" && echo "on linux_amd64"\n'
        "exit 0\n"
    ).encode()


def release_files(
    binary: str,
    version: str,
    executable: bytes,
    key: SigningKey | None,
    arches: tuple[str, ...] = ("amd64", "arm64"),
    corrupt: str | None = None,
) -> dict[str, bytes]:
    """URL path (from the site's root) -> bytes for one release; `corrupt` names an arch whose zip is altered."""
    prefix = f"/terraform/{version}" if binary == "terraform" else f"/v{version}"
    files: dict[str, bytes] = {}
    sums = []
    for arch in arches:
        name = f"{binary}_{version}_linux_{arch}.zip"
        data = zip_with(binary, executable)
        sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
        if arch == corrupt:
            data = zip_with(binary, executable + b"# altered\n")
        files[f"{prefix}/{name}"] = data
    sums_name = f"{binary}_{version}_SHA256SUMS"
    sums_data = "".join(sums).encode()
    files[f"{prefix}/{sums_name}"] = sums_data
    if key is not None:
        suffix = "sig" if binary == "terraform" else "gpgsig"
        files[f"{prefix}/{sums_name}.{suffix}"] = key.sign(sums_data)
    return files
