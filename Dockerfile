# The service image: the Flask app on gunicorn, non-root, read-only-root friendly.
# Build from the repository root:
#   docker build --build-arg APP_VERSION=$(git rev-parse HEAD) -t app .
# Offline (no registry to pull from) the tests pass a locally made base: --build-arg BASE_IMAGE=$(bash .ci/base-image.sh)

# Pinned to the Python that Debian bookworm ships (3.11), so the local stand-in base matches it.
ARG BASE_IMAGE=python:3.11.13-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Wheels only (no compilers needed or left behind), every file checked against its pinned hash.
COPY app/requirements.txt /tmp/requirements.txt
RUN python -m venv --without-pip /opt/venv \
 && python -m pip --python /opt/venv/bin/python install \
      --no-cache-dir --disable-pip-version-check --only-binary=:all: --require-hashes \
      -r /tmp/requirements.txt

FROM ${BASE_IMAGE}
ARG APP_VERSION=unknown
ARG REVISION=""
ARG SOURCE=""
LABEL org.opencontainers.image.title="ecs-poc hello world" \
      org.opencontainers.image.description="Flask hello world served by gunicorn, deployed by ecs-poc" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${APP_VERSION}"

# A fixed numeric uid, so runtimes can verify "non-root" without reading /etc/passwd.
RUN useradd --system --no-log-init --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin app

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY app/hello_world.py app/pathprefix.py app/gunicorn.conf.py app/healthcheck.py ./
# Bytecode is written now, since the root filesystem may be read-only at run time.
RUN python -m compileall -q /app

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    APP_VERSION=${APP_VERSION}

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["python", "/app/healthcheck.py"]
# gunicorn is PID 1: it reaps its workers and turns SIGTERM into a graceful stop.
CMD ["gunicorn", "--config", "/app/gunicorn.conf.py", "hello_world:app"]
