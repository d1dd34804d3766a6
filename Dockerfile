# Tandem: one image for the web processes (the default command), `flask worker` and `flask db upgrade`.
#   docker build -t tandem .          compose.yaml runs all three against PostgreSQL.
FROM python:3.11-slim-bookworm

# WeasyPrint's system libraries (PDF export) and a font; psycopg's binary wheel brings its own libpq.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLASK_APP=app \
    BIND=0.0.0.0 \
    PORT=8000 \
    XDG_CACHE_HOME=/tmp/.cache

WORKDIR /app
# The runtime requirements only (no test tools), in their own layer so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin tandem
USER tandem

EXPOSE 8000
# 200 when the database answers; the worker and migrate services of compose.yaml turn this off.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:app"]
