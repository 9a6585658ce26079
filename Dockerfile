# syntax=docker/dockerfile:1
# promoter's container image: promoter, git, openssh-client and kubectl, running as a non-root user.
#   docker build -t promoter .
#   docker run --rm -e PROMOTER_TOKEN promoter bump staging --app api --tag 1.2.3 --repo https://...
# In GitLab CI set `entrypoint: [""]` on the job's image so the runner's shell starts instead of promoter.

FROM python:3.12.8-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY promoter ./promoter
RUN python -m pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12.8-slim-bookworm

ARG KUBECTL_VERSION=v1.32.3
ARG TARGETARCH=amd64

# Debian's security updates move these versions; the base image tag pins the distribution release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# kubectl from the Kubernetes release site, verified against its published SHA-256.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN curl -fsSLo /usr/local/bin/kubectl "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl" \
    && echo "$(curl -fsSL "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/${TARGETARCH}/kubectl.sha256")  /usr/local/bin/kubectl" \
       | sha256sum --check --strict \
    && chmod 0755 /usr/local/bin/kubectl

COPY --from=build /wheels /wheels
RUN python -m pip install --no-cache-dir --no-index /wheels/*.whl \
    && rm -rf /wheels

RUN groupadd --gid 10001 promoter \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin promoter
USER 10001:10001
WORKDIR /home/promoter
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GIT_TERMINAL_PROMPT=0

ENTRYPOINT ["promoter"]
CMD ["--help"]
