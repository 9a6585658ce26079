"""Image labels (the config blob) from the real docker-registry: a single image and a multi-platform
index, which promoter reads for ``org.opencontainers.image.revision``."""

from __future__ import annotations

import hashlib
import json

import requests

from promoter.imageref import ImageRef
from promoter.registry import RegistryClient
from tests.support.registry import RegistryServer

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def _blob(base: str, name: str, data: bytes) -> str:
    digest = f"sha256:{hashlib.sha256(data).hexdigest()}"
    started = requests.post(f"{base}/v2/{name}/blobs/uploads/", timeout=10)
    location = started.headers["Location"]
    url = location if location.startswith("http") else f"{base}{location}"
    done = requests.put(url, params={"digest": digest}, data=data, timeout=10)
    assert done.status_code == 201, done.text
    return digest


def _manifest(base: str, name: str, reference: str, body: dict[str, object], media: str) -> tuple[str, int]:
    data = json.dumps(body).encode()
    pushed = requests.put(
        f"{base}/v2/{name}/manifests/{reference}", data=data, headers={"Content-Type": media}, timeout=10
    )
    assert pushed.status_code == 201, pushed.text
    return pushed.headers["Docker-Content-Digest"], len(data)


def push_labelled(
    base: str, name: str, reference: str, labels: dict[str, str], arch: str = "amd64"
) -> tuple[str, int]:
    config = json.dumps({"architecture": arch, "os": "linux", "config": {"Labels": labels}}).encode()
    digest = _blob(base, name, config)
    body = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": digest, "size": len(config)},
        "layers": [],
    }
    return _manifest(base, name, reference, body, OCI_MANIFEST)


def test_labels_of_an_image_and_of_an_index(registry_server: RegistryServer) -> None:
    base = registry_server.base_url
    host = base.split("://", 1)[1]
    client = RegistryClient()
    push_labelled(base, "labels/api", "1.4.2", {"org.opencontainers.image.revision": "a" * 40, "x": "y"})
    labels = client.image_labels(ImageRef.parse(f"{host}/labels/api:1.4.2"))
    assert labels == {"org.opencontainers.image.revision": "a" * 40, "x": "y"}

    arm, arm_size = push_labelled(
        base, "labels/multi", "arm", {"org.opencontainers.image.revision": "arm"}, "arm64"
    )
    amd, amd_size = push_labelled(
        base, "labels/multi", "amd", {"org.opencontainers.image.revision": "b" * 40}
    )
    attestation, att_size = push_labelled(base, "labels/multi", "att", {})
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": arm,
                "size": arm_size,
                "platform": {"architecture": "arm64", "os": "linux"},
            },
            {
                "mediaType": OCI_MANIFEST,
                "digest": attestation,
                "size": att_size,
                "platform": {"architecture": "unknown", "os": "unknown"},
            },
            {
                "mediaType": OCI_MANIFEST,
                "digest": amd,
                "size": amd_size,
                "platform": {"architecture": "amd64", "os": "linux"},
            },
        ],
    }
    _manifest(base, "labels/multi", "2.0.0", index, OCI_INDEX)
    labels = client.image_labels(ImageRef.parse(f"{host}/labels/multi:2.0.0"))
    assert labels == {"org.opencontainers.image.revision": "b" * 40}  # linux/amd64, not the first entry
    assert client.image_labels(ImageRef.parse(f"{host}/labels/multi:9.9.9")) == {}  # no such tag
