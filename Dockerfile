# Crewbot: multi-stage image, non-root, SQLite data on a volume (or PostgreSQL via
# CREWBOT_DATABASE_URL, as compose.yaml sets it). Settings: see .env.example.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/crewbot
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY storage ./storage
RUN /opt/crewbot/bin/pip install --no-cache-dir --disable-pip-version-check .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 crewbot && mkdir /data && chown crewbot /data
COPY --from=build /opt/crewbot /opt/crewbot
USER crewbot
WORKDIR /data
VOLUME ["/data"]
ENV PATH=/opt/crewbot/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CREWBOT_DATABASE_URL=/data/crewbot.sqlite3 \
    CREWBOT_HEALTH_PORT=8080 \
    CREWBOT_HEALTH_HOST=0.0.0.0
EXPOSE 8080
# Docker stops with SIGTERM; crewbot then closes its platform connections and exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['CREWBOT_HEALTH_PORT'] + '/readyz', timeout=4)"]
ENTRYPOINT ["crewbot"]
CMD ["run"]
