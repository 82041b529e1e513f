# One image for all five services: they share libs/common and most dependencies, so one image is smaller in
# total, builds once, and each container picks its service by command (trellis-<service> serve|migrate).
FROM python:3.11.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml uv.lock README.md ./
COPY libs ./libs
COPY services ./services
COPY src ./src
RUN uv sync --frozen --no-dev --all-packages --no-editable

FROM python:3.11.11-slim-bookworm
RUN groupadd --system --gid 10001 trellis && useradd --system --uid 10001 --gid trellis --no-create-home trellis
COPY --from=build /src/.venv /opt/trellis
ENV PATH=/opt/trellis/bin:$PATH PYTHONUNBUFFERED=1 TRELLIS_HTTP_PORT=8000
USER 10001
EXPOSE 8000
# The compose file and the Kubernetes manifests choose the service, e.g. ["trellis-skills", "serve"].
CMD ["trellis", "--help"]
