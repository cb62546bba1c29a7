# One image for every service; docker-compose.yml picks the service with the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml ./
COPY services ./services
COPY deploy ./deploy
# nameko 2.14's CLI imports pkg_resources: setuptools stays below 81.
RUN pip install 'setuptools>=65,<81' && pip install . \
    && useradd --system --uid 10001 --home-dir /app label
USER label

ENV GATEWAY_PORT=8000
EXPOSE 8000
# e.g. `nameko run --config deploy/config.yaml services.jury.service:JuryService`
CMD ["nameko", "run", "--config", "deploy/config.yaml", "services.gateway.app:GatewayService"]
