# syntax=docker/dockerfile:1.7
# The serving image: one image = one model version (the artifact is baked in).
#
#   docker build --build-context model=<artifact dir> \
#       --build-arg GPCAST_MODEL_VERSION=7 --build-arg GPCAST_MODEL_SHA256=<hex> \
#       -t gpcast:model-7 .
#   docker run -p 127.0.0.1:8000:8000 -e GPCAST_API_KEYS=<id:role:sha256,...> gpcast:model-7
#
# Air-gapped or registry-less machines build on a local base image (scripts/base-image makes
# localhost/python:3.11-slim from Debian packages; docs/container.md):
#   podman build --build-arg BASE_IMAGE=localhost/python:3.11-slim --format docker ...
#
# The entry point is the same `gpcast serve` that runs and is tested as a local process;
# it verifies model.pkl against GPCAST_MODEL_SHA256 before unpickling it.

# The base is pinned by digest (the multi-arch index of python:3.11.14-slim-bookworm); a new
# digest comes as a reviewed change (Dependabot's docker ecosystem), never silently.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${BASE_IMAGE} AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# The hash-pinned lock (scripts/lock writes it): this layer changes only with the lock.
COPY requirements/runtime.txt requirements/runtime.txt
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --only-binary :all: -r requirements/runtime.txt

FROM deps AS wheel
COPY pyproject.toml README.m[d] ./
COPY src ./src
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels .

# What every gpcast image runs on: the dependency stage (no copy of its 1 GB venv to hash and
# commit again on every build), the service user and gpcast itself, without dependencies (a
# small layer on top of the cached ones above).
FROM deps AS runtime
WORKDIR /
RUN rm -rf /src && useradd --system --uid 10001 --create-home --home-dir /var/lib/gpcast gpcast
COPY --from=wheel /wheels/ /tmp/wheels/
RUN /opt/venv/bin/pip install --no-deps --no-index /tmp/wheels/*.whl && rm -rf /tmp/wheels
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    GPCAST_HOME=/var/lib/gpcast
WORKDIR /var/lib/gpcast
EXPOSE 8000
ENTRYPOINT ["gpcast", "serve"]
CMD ["--host", "0.0.0.0", "--port", "8000"]

# The team stack's image (compose.yaml builds `--target stack`): no model baked in, since
# `gpcast serve --env staging` fetches the version the registry's alias names at start
# (sha256-checked); the same image runs the MLflow tracking server, so server and clients
# share the locked MLflow version.
FROM runtime AS stack
# PostgreSQL's driver for the MLflow backend store, the ledgers and the capture store
# (the version requirements/dev.txt locks)
RUN pip install --only-binary :all: "psycopg[binary]==3.3.9"
COPY --chmod=0755 compose/gpcast/mlflow-server.py /usr/local/bin/mlflow-server
USER gpcast
EXPOSE 5000

# The serving image (the default target). Everything above is shared by every model
# version's image (cached); below is per version.
FROM runtime
ARG GPCAST_MODEL_VERSION
ARG GPCAST_MODEL_SHA256
LABEL org.opencontainers.image.title="gpcast forecast service" \
      io.gpcast.version="${GPCAST_MODEL_VERSION}" io.gpcast.sha256="${GPCAST_MODEL_SHA256}"
# The artifact comes in as the named build context `model` (model.pkl + MANIFEST.json),
# owned by root and read-only for the service user.
COPY --from=model --chmod=0444 . /opt/gpcast/model/
RUN test -n "${GPCAST_MODEL_SHA256}" \
    && echo "${GPCAST_MODEL_SHA256}  /opt/gpcast/model/model.pkl" | sha256sum -c -
ENV GPCAST_MODEL_PATH=/opt/gpcast/model \
    GPCAST_MODEL_SHA256=${GPCAST_MODEL_SHA256}
USER gpcast
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]
