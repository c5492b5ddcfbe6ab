"""Makes moto's ECR API and the local registry-as-ECR behave as one store, as they are in AWS.

In AWS, `docker push` to `<account>.dkr.ecr.<region>.amazonaws.com` and the ECR API
(DescribeImages, BatchGetImage, PutImage, BatchDeleteImage, ...) see the same images. Here the push
lands in a real registry (`.ci/setup-registry.sh`) and the API is moto's, which never sees it.
The emulator proxy calls this bridge around every ECR API request:

- before: manifests pushed to the registry that moto has never seen are imported into moto with
  PutImage (the same manifest bytes, and the digest the registry reports);
- after BatchDeleteImage: an image moto no longer holds under any tag is deleted from the registry
  too, so a pull of a deleted image fails as it would on ECR.

Several accounts (`EcrBridge(..., registries=[(account, region), ...])`): every
`<account>.dkr.ecr.<region>.amazonaws.com` is the same registry, so a repository belongs to the
account (and region) whose moto ECR has a repository of that name; the names must differ between
accounts (they do: `ecs-poc-<environment>`).

Nothing here is in the binary: it talks to the ECR API and to the registry exactly as in production.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ECR_TARGET_PREFIX = "AmazonEC2ContainerRegistry_V20150921."
ACCOUNT_ID = "123456789012"
# moto's GetAuthorizationToken always hands out this password for user AWS.
REGISTRY_PASSWORD = f"{ACCOUNT_ID}-auth-token"
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json"
)


def _cache_dir() -> Path:
    return Path(os.environ.get("ECS_POC_CACHE", Path.home() / ".cache" / "ecs-poc"))


class Registry:
    """The registry-as-ECR over HTTPS with basic auth, as `docker` itself reaches it."""

    def __init__(self, region: str, account: str = ACCOUNT_ID) -> None:
        self.host = f"{account}.dkr.ecr.{region}.amazonaws.com"
        self.base = f"https://{self.host}"
        # setup-registry.sh signs the registry's certificate with its own CA (ca.pem); older
        # setups served a self-signed cert.pem.
        registry_dir = _cache_dir() / "registry"
        trust = next((p for p in (registry_dir / "ca.pem", registry_dir / "cert.pem") if p.is_file()), None)
        self.available = trust is not None
        self._ssl = ssl.create_default_context(cafile=str(trust)) if trust is not None else None
        token = base64.b64encode(f"AWS:{REGISTRY_PASSWORD}".encode()).decode()
        self._auth = f"Basic {token}"

    def _request(self, method: str, path: str, accept: str | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = {"Authorization": self._auth}
        if accept:
            headers["Accept"] = accept
        req = urllib.request.Request(f"{self.base}{path}", method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self._ssl) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers.items()), err.read()

    def repositories(self) -> list[str]:
        status, _, body = self._request("GET", "/v2/_catalog?n=1000")
        return list(json.loads(body).get("repositories") or []) if status == 200 else []

    def tags(self, repository: str) -> list[str]:
        status, _, body = self._request("GET", f"/v2/{repository}/tags/list")
        return list(json.loads(body).get("tags") or []) if status == 200 else []

    def manifest(self, repository: str, reference: str) -> tuple[str, str, str] | None:
        """(digest, media type, manifest text) of a tag or digest."""
        status, headers, body = self._request("GET", f"/v2/{repository}/manifests/{reference}", MANIFEST_TYPES)
        if status != 200:
            return None
        lowered = {k.lower(): v for k, v in headers.items()}
        return lowered.get("docker-content-digest", ""), lowered.get("content-type", ""), body.decode()

    def delete(self, repository: str, digest: str) -> None:
        self._request("DELETE", f"/v2/{repository}/manifests/{digest}")

    def purge(self, repository: str) -> int:
        """Deletes every image of `repository`: a fresh emulator must not meet images pushed to an
        earlier one (the registry's storage outlives moto's memory)."""
        deleted = 0
        for tag in self.tags(repository):
            found = self.manifest(repository, tag)
            if found is not None and found[0]:
                self.delete(repository, found[0])
                deleted += 1
        return deleted


class _AccountRegistry:
    """One account's ECR in one region: its registry host and its moto ECR API."""

    def __init__(self, moto_endpoint: str, account: str, region: str) -> None:
        self.account, self.region = account, region
        self.registry = Registry(region, account)
        self.moto_endpoint = moto_endpoint

    def ecr(self) -> Any:
        import boto3  # lazily: only bridged runs need it

        client = boto3.client("ecr", region_name=self.region, endpoint_url=self.moto_endpoint,
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        if self.account != ACCOUNT_ID:
            account = self.account

            def in_account(request: Any, **_: Any) -> None:
                request.headers["x-moto-account-id"] = account

            client.meta.events.register("before-sign.*.*", in_account)
        return client


class EcrBridge:
    def __init__(self, moto_endpoint: str, region: str, registries: list[tuple[str, str]] | None = None) -> None:
        self.accounts = [_AccountRegistry(moto_endpoint, account, where)
                         for account, where in (registries or [(ACCOUNT_ID, region)])]
        self.registry = self.accounts[0].registry
        self.region = region
        self.moto_endpoint = moto_endpoint
        # (account, repository, digest) already imported or deleted
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def before(self, target: str) -> None:
        if not self.registry.available or not target.startswith(ECR_TARGET_PREFIX):
            return
        with self._lock:
            try:
                for account in self.accounts:
                    self._import_new_pushes(account)
            except (OSError, urllib.error.URLError, ValueError) as err:
                # No registry running: moto alone answers, as it would without the bridge.
                print(f"ecr-bridge: registry not reachable, moto answers alone: {err}", file=sys.stderr)

    def _import_new_pushes(self, account: _AccountRegistry) -> None:
        ecr = account.ecr()
        known = {r["repositoryName"] for r in ecr.describe_repositories().get("repositories", [])}
        if not known:
            return
        registry = account.registry
        for repository in registry.repositories():
            if repository not in known:
                continue
            for tag in registry.tags(repository):
                found = registry.manifest(repository, tag)
                if found is None:
                    continue
                digest, media_type, manifest = found
                if (account.account, repository, digest) in self._seen:
                    continue
                self._import(ecr, account.account, repository, tag, digest, media_type, manifest)

    def _import(self, ecr: Any, account: str, repository: str, tag: str, digest: str, media_type: str,
                manifest: str) -> None:
        # moto derives a digest from the layers unless told; ECR's digest is the manifest's, as the
        # registry reports it, and image references by digest must resolve on both sides.
        kwargs: dict[str, Any] = {"repositoryName": repository, "imageManifest": manifest, "imageTag": tag,
                                  "imageDigest": digest}
        if media_type:
            kwargs["imageManifestMediaType"] = media_type
        try:
            ecr.put_image(**kwargs)
        except ecr.exceptions.ImageAlreadyExistsException:
            pass
        except ecr.exceptions.ImageTagAlreadyExistsException:
            pass
        # Other tags of the same push share the digest: one import records them all.
        self._seen.add((account, repository, digest))

    def after(self, target: str, request_body: bytes) -> None:
        if not self.registry.available or target != f"{ECR_TARGET_PREFIX}BatchDeleteImage":
            return
        try:
            repository = json.loads(request_body or b"{}").get("repositoryName", "")
        except ValueError:
            return
        with self._lock:
            try:
                for account in self.accounts:
                    self._delete_untagged(account, repository)
            except (OSError, urllib.error.URLError, ValueError) as err:
                print(f"ecr-bridge: could not mirror a deletion to the registry: {err}", file=sys.stderr)

    def _delete_untagged(self, account: _AccountRegistry, repository: str) -> None:
        ecr = account.ecr()
        try:
            ecr.describe_repositories(repositoryNames=[repository])
        except ecr.exceptions.RepositoryNotFoundException:
            return  # another account's repository
        still_tagged: set[str] = set()
        paginator = ecr.get_paginator("list_images")
        for page in paginator.paginate(repositoryName=repository):
            for image in page.get("imageIds", []):
                if image.get("imageTag"):
                    still_tagged.add(image["imageDigest"])
        registry = account.registry
        for tag in registry.tags(repository):
            found = registry.manifest(repository, tag)
            if found is None:
                continue
            digest = found[0]
            if digest not in still_tagged:
                registry.delete(repository, digest)
                # Gone from both sides: the same content pushed again must be imported again.
                self._seen.discard((account.account, repository, digest))
