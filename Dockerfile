# One image for both services and the maintenance commands (README.md, ARCHITECTURE.md, deploy/k8s/):
#   automation-trigger    gRPC on 50051, /metrics /healthz /readyz on 8001   (Deployment automation-trigger)
#   automation-executor   Kafka consumer, /metrics /healthz /readyz on 8002  (Deployment automation-executor)
#   automation-migrate    Alembic upgrade (Job); automationctl prune (CronJob), automationctl topics ensure (Job)
# The default command only prints automationctl's help: a container started without a command runs nothing.
#
#   docker build -t automation:0.1.0 .
#   docker run --rm automation:0.1.0 automation-trigger
#   docker run --rm -e HEALTHCHECK_PORT=8002 automation:0.1.0 automation-executor
#
# Checked by tests/test_dockerfile.py with hadolint and `checkov --framework dockerfile` (no skips).

# Python 3.11.14 on Debian 12 (bookworm), slim. Pinned by tag and by the digest of its multi-architecture
# index (amd64, arm64, ...). Bump both together, e.g. from `docker buildx imagetools inspect <tag>`.
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS base

# ---------------------------------------------------------------------------------------------------------
# Build: the project's wheel and its frozen dependencies in a venv at /opt/venv (the same path as at run
# time: a venv's scripts name their interpreter by absolute path). Every dependency ships manylinux wheels
# for amd64 and arm64, so no compiler is needed even here.
FROM base AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv

# Dependencies first, from the frozen list: this layer is reused until deploy/requirements-image.txt changes.
COPY deploy/requirements-image.txt ./
RUN /opt/venv/bin/pip install --requirement requirements-image.txt

# Then the project itself, as a wheel, without touching the dependencies; `pip check` fails the build when
# pyproject.toml asks for something requirements-image.txt does not provide. pip and setuptools leave the
# venv afterwards: nothing installs packages at run time.
COPY pyproject.toml ./
COPY shared ./shared
COPY trigger_service ./trigger_service
COPY executor_service ./executor_service
COPY automationctl ./automationctl
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /src/dist . \
    && /opt/venv/bin/pip install --no-deps /src/dist/petsit_automation-*.whl \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/python -m pip uninstall --yes pip setuptools

# ---------------------------------------------------------------------------------------------------------
# Runtime: the base image, the venv and an unprivileged user. No compiler, no package manager for Python
# (pip, setuptools and wheel are removed from the base interpreter too).
FROM base AS runtime

LABEL org.opencontainers.image.title="petsit-automation" \
      org.opencontainers.image.description="Pet-sitting automation pipeline: trigger (gRPC) and executor (Kafka)" \
      org.opencontainers.image.version="0.1.0"

# uid/gid 10001: numeric, above the host's range, matched by runAsUser/runAsGroup in deploy/k8s.
# /var/lib/automation is AUTOMATION_VAR_DIR (the log channel's outbox, a SQLite file when no database URL is
# set); Kubernetes mounts an emptyDir there because the root filesystem is read-only.
RUN python -m pip uninstall --yes pip setuptools wheel \
    && groupadd --system --gid 10001 automation \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin automation \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/automation

COPY --from=build /opt/venv /opt/venv

# HEALTHCHECK_PORT: the metrics port of the service the container runs. 8001 is the trigger's
# (AUTOMATION_TRIGGER_METRICS_PORT); set 8002 for the executor (AUTOMATION_EXECUTOR_METRICS_PORT).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AUTOMATION_VAR_DIR=/var/lib/automation \
    HEALTHCHECK_PORT=8001

USER 10001:10001
WORKDIR /var/lib/automation
EXPOSE 50051 8001 8002

# Docker's own health check (Kubernetes ignores it and uses the probes in deploy/k8s): /healthz on the
# metrics port. urlopen raises on a refused connection or a non-2xx answer, so the exit code is the verdict.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HEALTHCHECK_PORT', '8001') + '/healthz', timeout=4)"]

CMD ["automationctl", "--help"]
