# syntax=docker/dockerfile:1
# promoter's container image: promoter, git, openssh-client, kubectl and helm on Debian slim, running as the
# non-root user promoter (uid 10001). Released as ghcr.io/promoter-dev/promoter:<version> (amd64 and arm64,
# with an SBOM and a cosign signature: ci-examples/github/release.yml).
#   docker build -t promoter .
#   docker run --rm -e PROMOTER_TOKEN promoter bump staging --app api --tag 1.2.3 --repo https://...
# GitLab CI: set `entrypoint: [""]` on the job's image so the runner's shell starts instead of promoter.
# GitHub Actions job container: `container: {image: ..., options: --user root}` (the runner's workspace belongs
# to the runner's user; root can write it, and promoter needs nothing of its own user there).
#
# Everything downloaded is pinned: the base image by digest, kubectl and helm by version and SHA-256 (from
# https://dl.k8s.io/release/<version>/bin/linux/<arch>/kubectl.sha256 and https://get.helm.sh/<file>.sha256sum).
# Renovate or Dependabot can move them together.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm@sha256:782412e85d0f0984994c290652577d4018aff08145c85b262bb63dc0c7522254

# --- promoter in a virtual environment (the sources and pip's build files stay in this stage) -------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY promoter ./promoter
RUN python -m venv /opt/promoter \
    && /opt/promoter/bin/pip install --only-binary=:all: --no-binary=promoter . \
    && /opt/promoter/bin/pip uninstall --yes pip \
    && /opt/promoter/bin/promoter --version

# --- kubectl and helm, verified against pinned checksums (curl stays in this stage) -----------------------
FROM ${PYTHON_IMAGE} AS tools
ARG TARGETARCH
ARG KUBECTL_VERSION=v1.35.8
ARG KUBECTL_SHA256_AMD64=874d5e72dbb819f43cff16bcd1e4f8bac5b7f2361fe1e55049b0a6c676fb0cbf
ARG KUBECTL_SHA256_ARM64=cc749967b62f4422260bc9c0aa7a7c55f45175ae38cb8d95767b5d2b7e04c1fd
ARG HELM_VERSION=v3.18.4
ARG HELM_SHA256_AMD64=f8180838c23d7c7d797b208861fecb591d9ce1690d8704ed1e4cb8e2add966c1
ARG HELM_SHA256_ARM64=c0a45e67eef0c7416a8a8c9e9d5d2d30d70e4f4d3f7bea5de28241fffa8f3b89
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /tools
RUN case "${TARGETARCH:-amd64}" in \
        amd64) kubectl_sha="$KUBECTL_SHA256_AMD64"; helm_sha="$HELM_SHA256_AMD64" ;; \
        arm64) kubectl_sha="$KUBECTL_SHA256_ARM64"; helm_sha="$HELM_SHA256_ARM64" ;; \
        *) echo "no pinned checksums for ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
    && arch="${TARGETARCH:-amd64}" \
    && curl -fsSLo kubectl "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${arch}/kubectl" \
    && echo "${kubectl_sha}  kubectl" | sha256sum --check --strict \
    && curl -fsSLo helm.tar.gz "https://get.helm.sh/helm-${HELM_VERSION}-linux-${arch}.tar.gz" \
    && echo "${helm_sha}  helm.tar.gz" | sha256sum --check --strict \
    && tar -xzf helm.tar.gz --strip-components=1 "linux-${arch}/helm" \
    && rm helm.tar.gz \
    && chmod 0755 kubectl helm

# --- the image -------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="promoter" \
      org.opencontainers.image.description="The CI-side half of GitOps: byte-exact image bumps, promotions, approval merge requests and preview environments in an environment repository." \
      org.opencontainers.image.source="https://github.com/promoter-dev/promoter" \
      org.opencontainers.image.url="https://github.com/promoter-dev/promoter" \
      org.opencontainers.image.documentation="https://github.com/promoter-dev/promoter#readme" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="promoter contributors" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

# Debian's security updates move these versions; the base image digest pins the distribution release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 promoter \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin promoter

COPY --from=tools /tools/kubectl /tools/helm /usr/local/bin/
COPY --from=build /opt/promoter /opt/promoter

ENV PATH=/opt/promoter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GIT_TERMINAL_PROMPT=0

USER 10001:10001
WORKDIR /home/promoter
ENTRYPOINT ["promoter"]
CMD ["--help"]
