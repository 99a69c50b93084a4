# Zopi order center: one image for web (gunicorn), Celery workers and beat.
# docker-compose.yml shows the processes; docs/operations.md says how to run them.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    ZOPI_RUN_DIR=/var/lib/zopi \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

RUN groupadd --system zopi \
    && useradd --system --gid zopi --home-dir /var/lib/zopi --no-create-home --shell /usr/sbin/nologin zopi

# Dependencies first, from pyproject.toml's pinned list, so this layer is rebuilt only when
# they change. The code itself runs from /app (PYTHONPATH): templates/ and the apps' static
# files live beside the packages, not inside them, so a wheel of the project would lack them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# Hashed, compressed static files (STATIC_MANIFEST is on with DEBUG off), served by WhiteNoise.
# The settings refuse to load without SECRET_KEY when DEBUG is off: a build-only dummy is
# given to this one command and is not kept in the image.
RUN SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789 DEBUG=0 \
        python manage.py collectstatic --noinput \
    && SECRET_KEY=build-only-collectstatic-key-not-used-at-runtime-0123456789 DEBUG=0 \
        python manage.py catalogs compile \
    && mkdir -p "$ZOPI_RUN_DIR" \
    && chown -R zopi:zopi "$ZOPI_RUN_DIR"

USER zopi
EXPOSE 8000

# Workers: WEB_CONCURRENCY (read by gunicorn). Behind a TLS-terminating proxy that sets
# X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER is set when DEBUG is off).
CMD ["gunicorn", "zopi.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--timeout", "60"]
