"""When an image was built: its config's ``created``, through an index when there is one."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
import responses

from promoter.imageref import ImageRef
from promoter.registry import RegistryClient
from promoter.registry.images import image_created, parse_created
from tests.support.registry import RegistryServer, push_image

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-30T10:11:12Z", datetime(2026, 11, 30, 10, 11, 12, tzinfo=UTC)),
        ("2026-11-30T10:11:12.123456789Z", datetime(2026, 11, 30, 10, 11, 12, 123456, tzinfo=UTC)),
        ("2026-11-30T10:11:12.5+01:00", datetime(2026, 11, 30, 9, 11, 12, 500000, tzinfo=UTC)),
        ("2026-11-30", None),
        ("yesterday", None),
        (1700000000, None),
    ],
)
def test_parse_created(text: object, expected: datetime | None) -> None:
    assert parse_created(text) == expected


def test_created_from_the_real_registry(registry_server: RegistryServer) -> None:
    push_image(registry_server.base_url, "created/app", "1", created="2026-10-01T12:00:00.000000001Z")
    push_image(registry_server.base_url, "created/app", "undated")
    client = RegistryClient(environ={})
    ref = ImageRef.parse(registry_server.ref("created/app"))
    assert image_created(client, ref.with_version("1")) == datetime(2026, 10, 1, 12, tzinfo=UTC)
    assert image_created(client, ref.with_version("undated")) is None
    assert image_created(client, ref.with_version("missing")) is None
    assert client.calls == {registry_server.host: 5}  # manifest + config blob each, one 404


def test_an_index_is_read_through_its_linux_amd64_manifest() -> None:
    base = "https://registry.example.com/v2/acme/api"
    arm, amd, config = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"digest": arm, "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": amd, "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    }
    manifest = {"schemaVersion": 2, "config": {"digest": config}, "layers": []}
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        mock.add(responses.GET, f"{base}/manifests/2.0", json=index)
        mock.add(responses.GET, f"{base}/manifests/{amd}", json=manifest)
        mock.add(
            responses.GET, f"{base}/blobs/{config}", body=json.dumps({"created": "2026-01-02T03:04:05Z"})
        )
        created = image_created(
            RegistryClient(environ={}), ImageRef.parse("registry.example.com/acme/api:2.0")
        )
    assert created == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
