# syntax=docker/dockerfile:1
# One image for all seven services (surveys, skills, matchmaking, strategy, notifications, ingress, console).
# They share libs/common and nearly every dependency, so one image is about the size of any single one of them: the
# registry stores, and each node pulls, one set of layers instead of seven near-copies; a release is one build,
# one scan and one tag, and the services can never run different versions of the shared library by accident.
# Each container chooses its process by command:
#   trellis-<service> serve | trellis-<service> migrate | trellis topics create | trellis dlq replay <topic>
#
# Base images are pinned to an exact Python patch release and Debian release; pin the digest
# (python:3.11.11-slim-bookworm@sha256:...) in your registry mirror if your policy requires it.

FROM python:3.11.11-slim-bookworm AS build
# The virtual environment is built where it will run: console scripts carry its path in their shebang line.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/trellis
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
# Dependencies first (cached while only our code changes), then the workspace's own packages.
COPY pyproject.toml uv.lock README.md ./
COPY libs ./libs
COPY services ./services
COPY src ./src
RUN uv sync --frozen --no-dev --all-packages --no-editable

FROM python:3.11.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="trellis" \
      org.opencontainers.image.description="Trellis services: trellis-<service> serve|migrate" \
      org.opencontainers.image.licenses="proprietary"
RUN groupadd --system --gid 10001 trellis \
    && useradd --system --uid 10001 --gid trellis --no-create-home --shell /usr/sbin/nologin trellis
# Only the virtual environment crosses over: no compiler, no uv, no sources, no package caches.
COPY --from=build /opt/trellis /opt/trellis
# Bytecode was compiled at build time; a read-only root file system must not be written to at run time.
# matplotlib (the skills heatmap PNG) keeps its font cache in /tmp, the one writable place.
ENV PATH=/opt/trellis/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    TRELLIS_HTTP_PORT=8000
WORKDIR /tmp
USER 10001:10001
EXPOSE 8000
# Liveness for plain `docker run`; compose and Kubernetes define their own probes (/healthz, /readyz).
# Uses the interpreter already in the image: no curl or wget is installed for it.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
# The compose file and the Kubernetes manifests choose the service, e.g. ["trellis-skills", "serve"].
CMD ["trellis", "--help"]
