"""Golden tests over the real-world corpus (tests/fixtures/real-world, see SOURCES.md there).

Each case edits one value; the result must equal the golden file byte for byte, and independently of the
golden file, the only bytes that differ from the original are the value's.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from promoter.errors import UnsafeTargetError, YamlSyntaxError
from promoter.yamledit import YamlDocument, set_value

FIXTURES = Path(__file__).parent.parent / "fixtures"
CORPUS = FIXTURES / "real-world"
GOLDEN = FIXTURES / "golden" / "yaml-set"

# file, key, new value, --doc
CASES = [
    ("helm-values--kube-prometheus-stack.yaml", "prometheus.prometheusSpec.image.tag", "v3.5.0", None),
    ("helm-values--bitnami-postgresql.yaml", "image.tag", "17.7.0-debian-12-r1", None),
    ("helm-values--argo-cd.yaml", "redis-ha.exporter.tag", "v1.80.0", None),
    ("helm-values--ingress-nginx.yaml", "controller.image.tag", "v1.16.0", None),
    ("helm-values--grafana.yaml", "sidecar.image.tag", "1.32.0", None),
    (
        "helm-values--cert-manager.yaml",
        "image.repository",
        "registry.example.com/cert-manager-controller",
        None,
    ),
    ("helm-values--grafana-enterprise-logs-anchors.yaml", "image.tag", "v1.6.0", None),
    ("helm-values--guestbook-float-tag.yaml", "image.tag", "0.2", None),
    ("helm-values--umbrella-repeated-quoted-tags.yaml", "agent-jira.mcp.image.tag", "0.1.20", None),
    (
        "argocd-app--reference-all-source-fields.yaml",
        "spec.source.kustomize.images[1]",
        "my-app=gcr.io/my-repo/my-app:0.2",
        None,
    ),
    ("argocd-app--multi-source-anchors-valuesobject.yaml", "spec.sources[4].targetRevision", "v1.3.0", None),
    (
        "argocd-appset--pull-request-helm-parameters.yaml",
        "spec.template.spec.source.helm.parameters[name=image.tag].value",
        "pull-abc123",
        None,
    ),
    (
        "argocd-appset--kustomize-images.yaml",
        "spec.template.spec.source.kustomize.images[0]",
        "public.ecr.aws/nginx/nginx=public.ecr.aws/nginx/nginx:1.25.0",
        None,
    ),
    (
        "argocd-appset--multi-source-values-block-image-tag.yaml",
        "spec.generators[0].merge.generators[3].clusters.values.clusterAutoScalerImageTag",
        "v1.28.1",
        None,
    ),
    ("argocd-source--helm-parameters-writeback.yaml", "helm.parameters[name=image.tag].value", "0.3", None),
    ("app-of-apps--values.yaml", "repoUrl", "https://git.example.com/acme/addons.git", None),
    (
        "kustomization--images-newname-newtag.yaml",
        "images[name=quay.io/argoproj/argocd].newTag",
        "v3.1.0",
        None,
    ),
    ("flux-kustomization--imagepolicy-setters.yml", "images[name=container].newTag", "v2", None),
    (
        "flux-cronjob--imagepolicy-setter-full-ref.yaml",
        "spec.jobTemplate.spec.template.spec.containers[1].image",
        "image:v1.1.0",
        None,
    ),
    ("flux-helmrelease--values-image-tag.yaml", "spec.values.redis.tag", "8.6.3", None),
    (
        "manifest--guestbook-all-in-one-multidoc.yaml",
        "spec.template.spec.containers[0].image",
        "gcr.io/google-samples/gb-frontend:v6",
        5,
    ),
    (
        "manifest--game-2048-untagged-image-no-eol.yaml",
        "spec.template.spec.containers[0].image",
        "public.ecr.aws/l6m2t8p7/docker-2048:1.1",
        1,
    ),
    (
        "manifest--redis-ha-rendered-initcontainers.yaml",
        "spec.template.spec.containers[1].image",
        "public.ecr.aws/docker/library/redis:8.10.2-alpine",
        None,
    ),
    (
        "manifest--ingress-nginx-static-deploy-digests.yaml",
        "spec.template.spec.containers[0].args[0]",
        "/nginx-ingress-controller-v2",
        14,
    ),
    (
        "cr--prometheus-crlf-single-quoted-image.yaml",
        "spec.image",
        "quay.io/prometheus/prometheus:v2.38.0",
        None,
    ),
    ("cr--solrcloud-single-quoted-float-tag.yaml", "spec.solrImage.tag", "8.12", None),
    (
        "flux-helmrelease--app-template-tag-digest.yaml",
        "spec.values.controllers.chrome.containers.app.image.tag",
        "125@sha256:" + "e" * 64,
        None,
    ),
    (
        "flux-helmrelease--app-template-tag-digest-anchor-merge.yaml",
        "spec.values.controllers.tqm.initContainers.retag.image.tag",
        "1.19.0@sha256:" + "c" * 64,
        None,
    ),
    (
        "flux-helmrelease--app-template-tag-digest-merge-flow-args.yaml",
        "spec.values.controllers.tagging.initContainers.tag.image.tag",
        "v0.22.0@sha256:" + "d" * 64,
        None,
    ),
]


@pytest.mark.parametrize(("name", "key", "value", "doc"), CASES, ids=[c[0] for c in CASES])
def test_corpus_edit_matches_golden_bytes(
    tmp_path: Path, name: str, key: str, value: str, doc: int | None
) -> None:
    original = (CORPUS / name).read_bytes()
    work = tmp_path / name
    work.write_bytes(original)
    result = set_value(work, key, value, doc=doc, write=True)
    assert len(result.changes) == 1
    after = work.read_bytes()
    assert after == (GOLDEN / name).read_bytes()

    # independent check: common prefix + one value + common suffix
    target = YamlDocument.read(CORPUS / name).locate(key, doc)
    old_text = original.decode("utf-8")
    bom = 1 if old_text.startswith("\ufeff") else 0
    start, end = target.start + bom, target.end + bom
    new_text = after.decode("utf-8")
    assert new_text[:start] == old_text[:start]
    assert new_text.endswith(old_text[end:])
    middle = new_text[start : len(new_text) - len(old_text) + end]
    assert value in middle
    assert len(middle) <= len(value) + 3  # the value, at most quoted and with a leading space


def test_every_corpus_file_is_covered() -> None:
    names = {p.name for p in CORPUS.iterdir() if p.suffix in {".yaml", ".yml"}}
    covered = {c[0] for c in CASES} | {"app-of-apps--template-karpenter-gotemplate.yaml"}
    assert names == covered


def test_go_template_is_refused_unchanged(tmp_path: Path) -> None:
    name = "app-of-apps--template-karpenter-gotemplate.yaml"
    work = tmp_path / name
    work.write_bytes((CORPUS / name).read_bytes())
    past = 1_600_000_000
    os.utime(work, (past, past))
    with pytest.raises(YamlSyntaxError) as info:
        set_value(work, "spec.project", "x", write=True)
    assert info.value.where and info.value.where.startswith(f"{work}:")
    assert work.read_bytes() == (CORPUS / name).read_bytes()
    assert work.stat().st_mtime == past


def test_alias_path_is_refused() -> None:
    document = YamlDocument.read(CORPUS / "helm-values--grafana-enterprise-logs-anchors.yaml")
    with pytest.raises(UnsafeTargetError) as info:
        document.locate("loki-distributed.loki.image.tag")
    assert "alias" in info.value.message
    assert info.value.where.endswith(":597:10")


def test_anchored_scalar_is_refused() -> None:
    document = YamlDocument.read(CORPUS / "argocd-app--multi-source-anchors-valuesobject.yaml")
    with pytest.raises(UnsafeTargetError, match="anchor"):
        document.locate("spec.sources[0].targetRevision")
    with pytest.raises(UnsafeTargetError, match="anchor"):
        document.locate("spec.sources[1].targetRevision")  # an alias of the anchored scalar
