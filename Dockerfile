# Crewbot: multi-stage image, non-root, SQLite data on a volume (or PostgreSQL via CREWBOT_DATABASE_URL).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 crewbot && mkdir /data && chown crewbot /data
COPY --from=build /install /usr/local
USER crewbot
WORKDIR /data
VOLUME ["/data"]
ENV CREWBOT_DATABASE_URL=/data/crewbot.sqlite3 \
    PYTHONUNBUFFERED=1
STOPSIGNAL SIGTERM
CMD ["crewbot", "run"]
