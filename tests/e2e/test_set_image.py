"""``promoter set-image`` end to end: golden files, the real-world corpus, refusals, all-or-nothing."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from promoter.errors import EXIT_INPUT

FIXTURES = Path(__file__).parent.parent / "fixtures"
REAL_WORLD = FIXTURES / "real-world"
GOLDEN = FIXTURES / "golden" / "set-image"
DIGEST_1 = "sha256:" + "1" * 64
ZERO = "sha256:" + "0" * 64


def copy(tmp_path: Path, source: Path, name: str | None = None) -> Path:
    target = tmp_path / (name or source.name)
    shutil.copyfile(source, target)
    target.chmod(0o644)
    return target


# golden files ------------------------------------------------------------------------------------
GOLDEN_CASES = {
    "deployment": "registry.example.com/acme/api:1.5.0",
    "app-of-apps-values": "registry.example.com/acme/api:2024.07.0",
    "application-helm-parameters": "registry.example.com/acme/api:v1.5.0",
    "kustomization": "registry.example.com/acme/api:v1.5.0",
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_every_reference_and_nothing_else(run_cli, tmp_path: Path, case: str) -> None:
    path = copy(tmp_path, GOLDEN / f"{case}.input.yaml", f"{case}.yaml")
    result = run_cli("set-image", str(path), "--image", GOLDEN_CASES[case])
    assert result.exit_code == 0, result.output
    assert path.read_bytes() == (GOLDEN / f"{case}.expected.yaml").read_bytes()
    again = run_cli("set-image", str(path), "--image", GOLDEN_CASES[case])
    assert again.exit_code == 0
    assert "unchanged" in again.output


def test_changed_locations_are_printed(run_cli, tmp_path: Path) -> None:
    path = copy(tmp_path, GOLDEN / "deployment.input.yaml", "deployment.yaml")
    result = run_cli("set-image", str(path), "--image", "registry.example.com/acme/api:1.5.0")
    assert result.output.splitlines() == [
        f"{path}:13:16 spec.template.spec.initContainers[0].image "
        "registry.example.com/acme/api:1.4.2 -> registry.example.com/acme/api:1.5.0",
        f"{path}:17:18 spec.template.spec.containers[0].image "
        f"registry.example.com/acme/api:1.4.2@{DIGEST_1} -> registry.example.com/acme/api:1.5.0",
        f"{path}:22:32 spec.template.spec.containers[2].image "
        "registry.example.com/acme/api:1.4.2 -> registry.example.com/acme/api:1.5.0",
    ]


# the real-world corpus: (image, {line: (old text, new text)}) --------------------------------------
REAL_WORLD_CASES: dict[str, tuple[str, dict[int, tuple[str, str]]]] = {
    "argocd-app--reference-all-source-fields.yaml": (
        "gcr.io/my-repo/my-app:0.2",
        {131: ("my-app=gcr.io/my-repo/my-app:0.1", "my-app=gcr.io/my-repo/my-app:0.2")},
    ),
    "argocd-appset--kustomize-images.yaml": (
        "public.ecr.aws/nginx/nginx:1.25.0",
        {26: ("nginx=public.ecr.aws/nginx/nginx:1.24.0", "nginx=public.ecr.aws/nginx/nginx:1.25.0")},
    ),
    "cr--prometheus-crlf-single-quoted-image.yaml": (
        "quay.io/prometheus/prometheus:v2.38.0",
        {53: ("'quay.io/prometheus/prometheus:v2.37.0'\r\n", "'quay.io/prometheus/prometheus:v2.38.0'\r\n")},
    ),
    "cr--solrcloud-single-quoted-float-tag.yaml": ("solr:9.1", {66: ("tag: '8.11'", "tag: '9.1'")}),
    "flux-cronjob--imagepolicy-setter-full-ref.yaml": (
        "image:v1.1.0",
        {
            14: ("image: image:v1.0.0 #", "image: image:v1.1.0 #"),
            16: ("image: image:v1.0.0 #", "image: image:v1.1.0 #"),
        },
    ),
    "flux-helmrelease--values-image-tag.yaml": (
        "public.ecr.aws/docker/library/redis:8.6.3",
        {27: ("tag: 8.6.2", "tag: 8.6.3")},
    ),
    "flux-kustomization--imagepolicy-setters.yml": (
        "replaced:v2",
        {
            9: ("newTag: v1 #", "newTag: v2 #"),
            10: ("newDigest: sha256:1234567890abcdef #", 'newDigest: "" #'),
        },
    ),
    # app-template: the tag pins its digest (VERSION@DIGEST); a new tag alone drops the stale pin, a new
    # digest alone keeps the version
    "flux-helmrelease--app-template-tag-digest.yaml": (
        "docker.io/getmeili/meilisearch:v1.54.0",
        {
            123: (
                "tag: v1.53.1@sha256:8d6643d86d71fad6ad3cba92cde7ccfce9e4d6c384bda67598eb553571c32431",
                "tag: v1.54.0",
            )
        },
    ),
    "flux-helmrelease--app-template-tag-digest-anchor-merge.yaml": (
        f"ghcr.io/home-operations/tqm:1.19.0@{DIGEST_1}",
        {
            46: (
                "tag: 1.18.0@sha256:454864e1f56a86550c54776c3ba5f3439133b4fc4e66ef69ff90a6ee65db6cc5",
                f"tag: 1.19.0@{DIGEST_1}",
            )
        },
    ),
    "flux-helmrelease--app-template-tag-digest-merge-flow-args.yaml": (
        f"ghcr.io/buroa/qbtools@{DIGEST_1}",
        {37: ("@sha256:fd13085f7534719b7b30828684661b7f5611bbc4156831123775cfcd9b8f2eb5", f"@{DIGEST_1}")},
    ),
    "helm-values--argo-cd.yaml": ("ghcr.io/dexidp/dex:v2.46.0", {1232: ("tag: v2.45.1", "tag: v2.46.0")}),
    "helm-values--bitnami-postgresql.yaml": (
        "bitnami/postgresql:17.7.0-debian-12-r0",
        {126: ("tag: 17.6.0-debian-12-r4", "tag: 17.7.0-debian-12-r0")},
    ),
    "helm-values--grafana-enterprise-logs-anchors.yaml": (
        "grafana/enterprise-logs:v1.6.0",
        {22: ("tag: v1.5.2", "tag: v1.6.0")},
    ),
    "helm-values--grafana.yaml": ("curlimages/curl:8.10.0", {193: ("tag: 8.9.1", "tag: 8.10.0")}),
    "helm-values--guestbook-float-tag.yaml": (
        "quay.io/argoprojlabs/argocd-e2e-container:0.2",
        {9: ("tag: 0.1", 'tag: "0.2"')},
    ),
    "helm-values--ingress-nginx.yaml": (
        "ingress-nginx/controller:v1.16.0",
        {
            33: ('tag: "v1.15.1"', 'tag: "v1.16.0"'),
            34: (
                "digest: sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1",
                'digest: ""',
            ),
            35: (
                "digestChroot: sha256:af31d00c9d82c612896b380a9003bd36843b7647b98e4588251c66325317bc72",
                'digestChroot: ""',
            ),
        },
    ),
    "helm-values--kube-prometheus-stack.yaml": (
        "quay.io/thanos/thanos:v0.43.0",
        {3574: ("tag: v0.42.4", "tag: v0.43.0"), 5541: ("tag: v0.42.4", "tag: v0.43.0")},
    ),
    "helm-values--umbrella-repeated-quoted-tags.yaml": (
        "ghcr.io/cnoe-io/mcp-jira:0.1.20",
        {256: ('tag: "0.1.19"', 'tag: "0.1.20"')},
    ),
    "kustomization--images-newname-newtag.yaml": (
        "quay.io/argoproj/argocd:v3.1.0",
        {8: ("newTag: latest", "newTag: v3.1.0")},
    ),
    "manifest--game-2048-untagged-image-no-eol.yaml": (
        "public.ecr.aws/l6m2t8p7/docker-2048:v2",
        {
            22: (
                "image: public.ecr.aws/l6m2t8p7/docker-2048\n",
                "image: public.ecr.aws/l6m2t8p7/docker-2048:v2\n",
            )
        },
    ),
    "manifest--guestbook-all-in-one-multidoc.yaml": (
        "gcr.io/google-samples/gb-frontend:v6",
        {135: ("gb-frontend:v5", "gb-frontend:v6")},
    ),
    "manifest--ingress-nginx-static-deploy-digests.yaml": (
        "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.7.0",
        {
            line: (
                "kube-webhook-certgen:v1.6.9@sha256:01038e7de14b78d702d2849c3aad72fd25903c4765af63cf16aa3398f5d5f2dd",
                "kube-webhook-certgen:v1.7.0",
            )
            for line in (549, 605)
        },
    ),
    "manifest--redis-ha-rendered-initcontainers.yaml": (
        "public.ecr.aws/docker/library/redis:8.10.2-alpine",
        {line: ("redis:8.10.1-alpine", "redis:8.10.2-alpine") for line in (1348, 1388, 1462, 1535)},
    ),
}

# Files with no reference promoter can match by repository: exit 3, the file untouched.
NOT_MATCHABLE = {
    "app-of-apps--values.yaml": "no image references were found",
    "argocd-app--multi-source-anchors-valuesobject.yaml": "no image references were found",
    "argocd-appset--multi-source-values-block-image-tag.yaml": "no image references were found",
    "argocd-appset--pull-request-helm-parameters.yaml": "no image references were found",
    "argocd-source--helm-parameters-writeback.yaml": "no image references were found",
    "helm-values--cert-manager.yaml": "no image references were found",
}


def test_the_tables_cover_the_whole_corpus() -> None:
    corpus = {p.name for p in REAL_WORLD.iterdir() if p.suffix in {".yaml", ".yml"}}
    covered = set(REAL_WORLD_CASES) | set(NOT_MATCHABLE) | {"app-of-apps--template-karpenter-gotemplate.yaml"}
    assert corpus == covered


@pytest.mark.parametrize("name", sorted(REAL_WORLD_CASES))
def test_real_world_only_the_value_bytes_change(run_cli, tmp_path: Path, name: str) -> None:
    image, expected = REAL_WORLD_CASES[name]
    path = copy(tmp_path, REAL_WORLD / name)
    before = path.read_bytes().splitlines(keepends=True)
    result = run_cli("set-image", str(path), "--image", image)
    assert result.exit_code == 0, result.output
    after = path.read_bytes().splitlines(keepends=True)
    assert len(after) == len(before)
    changed = {number + 1 for number, (old, new) in enumerate(zip(before, after)) if old != new}
    assert changed == set(expected)
    for line, (old, new) in expected.items():
        old_line = before[line - 1].decode()
        assert old in old_line, f"line {line}: {old!r} not in {old_line!r}"
        assert after[line - 1].decode() == old_line.replace(old, new, 1)
    assert len(result.output.splitlines()) >= len(expected)


@pytest.mark.parametrize("name", sorted(NOT_MATCHABLE))
def test_real_world_without_a_matchable_image_is_exit_3(run_cli, tmp_path: Path, name: str) -> None:
    path = copy(tmp_path, REAL_WORLD / name)
    before = path.read_bytes()
    result = run_cli("set-image", str(path), "--image", "registry.example.com/acme/api:1.0.0")
    assert result.exit_code == EXIT_INPUT
    assert "no reference to registry.example.com/acme/api" in result.output
    assert NOT_MATCHABLE[name] in result.output
    assert path.read_bytes() == before


# quirks ------------------------------------------------------------------------------------------
def test_go_template_is_refused_with_its_place_and_left_alone(run_cli, tmp_path: Path) -> None:
    path = copy(tmp_path, REAL_WORLD / "app-of-apps--template-karpenter-gotemplate.yaml")
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    result = run_cli("set-image", str(path), "--image", "public.ecr.aws/karpenter/controller:1.0.0")
    assert result.exit_code == EXIT_INPUT
    assert f"({path}:1:3)" in result.output
    assert "does not parse" in result.output
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime


def test_nothing_is_written_unless_every_file_is_good(run_cli, tmp_path: Path) -> None:
    good = copy(tmp_path, GOLDEN / "deployment.input.yaml", "deployment.yaml")
    bad = copy(tmp_path, REAL_WORLD / "app-of-apps--template-karpenter-gotemplate.yaml")
    before = good.read_bytes()
    result = run_cli("set-image", str(good), str(bad), "--image", "registry.example.com/acme/api:1.5.0")
    assert result.exit_code == EXIT_INPUT
    assert good.read_bytes() == before


def test_several_files_in_one_run(run_cli, tmp_path: Path) -> None:
    one = copy(tmp_path, GOLDEN / "deployment.input.yaml", "deployment.yaml")
    two = copy(tmp_path, GOLDEN / "kustomization.input.yaml", "kustomization.yaml")
    other = copy(tmp_path, REAL_WORLD / "helm-values--grafana.yaml")
    before = other.read_bytes()
    result = run_cli(
        "set-image", str(one), str(two), str(other), "--image", "registry.example.com/acme/api:v1.5.0"
    )
    assert result.exit_code == 0, result.output
    assert one.read_bytes() == (GOLDEN / "deployment.expected.yaml").read_bytes().replace(
        b":1.5.0", b":v1.5.0"
    )
    assert two.read_bytes() == (GOLDEN / "kustomization.expected.yaml").read_bytes()
    assert other.read_bytes() == before


def test_an_absent_image_lists_the_images_found(run_cli, tmp_path: Path) -> None:
    path = copy(tmp_path, REAL_WORLD / "manifest--guestbook-all-in-one-multidoc.yaml")
    before = path.read_bytes()
    result = run_cli("set-image", str(path), "--image", "registry.example.com/acme/api:1.0.0")
    assert result.exit_code == EXIT_INPUT
    assert "registry.k8s.io/redis:e2e" in result.output
    assert "gcr.io/google_samples/gb-redisslave:v1" in result.output
    assert f"gcr.io/google-samples/gb-frontend:v5 ({path}:135:16)" in result.output
    assert path.read_bytes() == before


def test_json_output_lists_the_changes(run_cli, tmp_path: Path) -> None:
    path = copy(tmp_path, REAL_WORLD / "helm-values--ingress-nginx.yaml")
    result = run_cli(
        "--output", "json", "set-image", str(path), "--image", "ingress-nginx/controller:v1.16.0"
    )
    payload = json.loads(result.stdout)
    assert payload["ok"] is True
    assert payload["dry_run"] is False
    assert payload["unsupported"] == []
    assert [(c["key"], c["line"], c["old"], c["new"]) for c in payload["changes"]] == [
        ("controller.image.tag", 33, "v1.15.1", "v1.16.0"),
        (
            "controller.image.digest",
            34,
            "sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1",
            "",
        ),
        (
            "controller.image.digestChroot",
            35,
            "sha256:af31d00c9d82c612896b380a9003bd36843b7647b98e4588251c66325317bc72",
            "",
        ),
    ]


def test_dry_run_prints_the_diff_and_writes_nothing(run_cli, tmp_path: Path) -> None:
    path = copy(tmp_path, REAL_WORLD / "manifest--game-2048-untagged-image-no-eol.yaml")
    before = path.read_bytes()
    result = run_cli("set-image", str(path), "--image", "public.ecr.aws/l6m2t8p7/docker-2048:v2", "--dry-run")
    assert result.exit_code == 0
    assert "-      - image: public.ecr.aws/l6m2t8p7/docker-2048\n" in result.output
    assert "+      - image: public.ecr.aws/l6m2t8p7/docker-2048:v2\n" in result.output
    assert path.read_bytes() == before
    as_json = run_cli(
        "--output",
        "json",
        "set-image",
        str(path),
        "--image",
        "public.ecr.aws/l6m2t8p7/docker-2048:v2",
        "--dry-run",
    )
    assert json.loads(as_json.stdout)["dry_run"] is True
    assert path.read_bytes() == before


def test_bom_crlf_and_missing_final_newline_survive(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_bytes(
        b"\xef\xbb\xbfimage:\r\n  repository: acme/api\r\n  tag: v1\r\n  digest: "
        + ZERO.encode()
        + b"\r\nother: x"
    )
    result = run_cli("set-image", str(path), "--image", "acme/api:1.10")
    assert result.exit_code == 0, result.output
    assert (
        path.read_bytes()
        == b'\xef\xbb\xbfimage:\r\n  repository: acme/api\r\n  tag: "1.10"\r\n  digest: ""\r\nother: x'
    )


def test_anchored_target_is_refused_and_file_unchanged(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "values.yaml"
    path.write_text("a:\n  repository: acme/api\n  tag: &v 1.0.0\nb:\n  repository: acme/web\n  tag: *v\n")
    before = path.read_bytes()
    result = run_cli("set-image", str(path), "--image", "acme/web:2.0.0")
    assert result.exit_code == EXIT_INPUT
    assert "alias" in result.output
    assert f"({path}:6:" in result.output
    assert path.read_bytes() == before


def test_values_block_string_is_reported_not_rewritten(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        "kind: Application\nspec:\n  source:\n    helm:\n      values: |\n        image:\n"
        "          repository: acme/api\n          tag: v1\n"
        "      valuesObject:\n        image: {repository: acme/api, tag: v1}\n"
    )
    result = run_cli("--output", "json", "set-image", str(path), "--image", "acme/api:v2")
    payload = json.loads(result.stdout)
    assert [c["key"] for c in payload["changes"]] == ["spec.source.helm.valuesObject.image.tag"]
    assert len(payload["unsupported"]) == 1
    assert "spec.source.helm.values > image.tag" in payload["unsupported"][0]
    assert "not editable in place" in payload["unsupported"][0]
    assert "          tag: v1\n" in path.read_text()
    path.write_text(
        "kind: Application\nspec:\n  source:\n    helm:\n      values: |\n        image:\n"
        "          repository: acme/api\n          tag: v1\n"
    )
    only = run_cli("set-image", str(path), "--image", "acme/api:v2")
    assert only.exit_code == EXIT_INPUT
    assert "cannot edit in place" in only.output


def test_invalid_or_versionless_image_is_exit_3(run_cli, tmp_path: Path) -> None:
    path = copy(tmp_path, GOLDEN / "deployment.input.yaml", "deployment.yaml")
    assert run_cli("set-image", str(path), "--image", "Not A Ref").exit_code == EXIT_INPUT
    result = run_cli("set-image", str(path), "--image", "registry.example.com/acme/api")
    assert result.exit_code == EXIT_INPUT
    assert "names no version" in result.output
