# syntax=docker/dockerfile:1
# Build stage: wheels for everything in requirements.txt (compilers stay out of the runtime image).
FROM python:3.11-slim AS build
WORKDIR /build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /wheels -r requirements.txt

# Runtime stage: the app, its wheels, an unprivileged user.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 CRONMANAGER_ENV=production PORT=8000
RUN useradd --create-home --uid 10001 cronmanager
# pg_dump/pg_restore for `flask backup|restore`, of the server's major version (PGDG's apt repository)
ARG PG_CLIENT_MAJOR=16
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-common ca-certificates \
    && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
    && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_MAJOR}" \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
COPY --chown=cronmanager:cronmanager . .
# the archive volume's mount point: a fresh named volume copies this ownership
RUN mkdir -p /data/archive && chown cronmanager:cronmanager /data/archive
USER cronmanager
EXPOSE 8000
# web only: docker-compose.yml replaces it for worker and scheduler (`flask health --process ...`)
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/health', timeout=4)" || exit 1
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
