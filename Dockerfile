# syntax=docker/dockerfile:1
# One image for every smsq process: worker, Flower, gateway, emulator. The command picks the role
# (docker-compose.yml, ops/k8s/). Build: `docker build -t smsq .`

# --- build stage: install the distribution into a virtualenv we can copy whole ----------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# A virtualenv keeps our packages out of the system site-packages and copies as one directory.
RUN python -m venv /opt/smsq
WORKDIR /src
# The whole (filtered, see .dockerignore) source tree: pyproject.toml names the readme and package data.
COPY . .
# Not editable (-e): the runtime image carries no source tree, only the installed distribution.
# Every role this image runs: workers, the gateway (and the emulator, dev profile only), Flower.
# (smsq[worker] brings the Alibaba SDK; the gateway, in SMSQ_CHECK_MODE=worker, never loads it.)
RUN /opt/smsq/bin/pip install '.[worker,gateway,flower]'

# --- runtime stage: no compiler, no source, no pip cache --------------------------------------------
FROM python:3.11-slim
# PATH: `smsq`, `celery` from the venv. PYTHONUNBUFFERED: logs reach `docker logs` at once.
# ALIBABA_CLOUD_ECS_METADATA_DISABLED: the credentials chain must never probe the ECS metadata
# address (100.100.100.200); a deployment that deliberately uses an ECS RAM role overrides it to false.
# ALIBABA_CLOUD_CLI_PROFILE_DISABLED: never read an aliyun CLI profile from a home directory.
ENV PATH=/opt/smsq/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ALIBABA_CLOUD_ECS_METADATA_DISABLED=true \
    ALIBABA_CLOUD_CLI_PROFILE_DISABLED=true
# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it (ops/k8s use 10001 too).
RUN groupadd --system --gid 10001 smsq \
 && useradd --system --uid 10001 --gid smsq --home-dir /home/smsq --create-home --shell /usr/sbin/nologin smsq
COPY --from=build /opt/smsq /opt/smsq
USER 10001:10001
# Celery, Flower and the worker heartbeat write only under the home directory and /tmp.
WORKDIR /home/smsq
# 8000 gateway, 5555 Flower, 8085 emulator, 9808 worker /metrics. Documentation only: nothing is published here.
EXPOSE 8000 5555 8085 9808
# Exec form: the process is PID 1's direct child (or PID 1) and receives SIGTERM itself, so Celery's
# warm shutdown runs. No ENTRYPOINT, so `command: ["smsq", ...]` in compose and Kubernetes reads as-is.
CMD ["smsq", "worker"]
