"""Settings, read from the environment only.

With nothing set, the project runs on the embedded default: SQLite in ``.run/`` and
Celery's filesystem broker, so a fresh machine needs no service. ``DATABASE_URL`` and
``REDIS_URL`` switch to PostgreSQL and Redis. With ``DEBUG`` off the production profile
applies (secure cookies, HSTS, SSL redirect) and ``manage.py check --deploy`` is clean.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("ZOPI_RUN_DIR", BASE_DIR / ".run"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "zopi",
    "accounts",
    "orders",
    "channels_sync",
    "suppliers",
    "tracking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentAccountMiddleware",
]

# The simulated providers (sandbox/): on for make run and tests, off in the production profile.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)
if SANDBOX_ENABLED:
    INSTALLED_APPS.append("sandbox")

ROOT_URLCONF = "zopi.urls"
WSGI_APPLICATION = "zopi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_account",
                "accounts.context_processors.user_accounts",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
RUN_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    # An empty DATABASE_URL (a blank line in a .env file) means unset, as for REDIS_URL.
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{RUN_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one file: WAL lets readers run beside the writer and
    # IMMEDIATE transactions make writers queue instead of failing with "locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than any countdown or ETA we schedule, so a delayed task is not redelivered.
        "visibility_timeout": 12 * 60 * 60,
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    broker_dir = RUN_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    # Embedded default: Celery's filesystem transport, shared by every process on this machine.
    CELERY_BROKER_URL = "filesystem://localhost/"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
        # Exchange tables (remote control, broadcast): kombu's default is ./control in the work tree.
        "control_folder": str(broker_dir / "control"),
    }

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue(name) for name in ("default", "sync", "suppliers", "tracking", "push")]
CELERY_TASK_ROUTES = {
    "channels_sync.*": {"queue": "sync"},
    "suppliers.*": {"queue": "suppliers"},
    "tracking.*": {"queue": "tracking"},
    "orders.*": {"queue": "default"},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "orders-refresh-time-based-statuses": {
        "task": "orders.refresh_time_based_statuses",
        "schedule": timedelta(minutes=15),
    },
    "channels-sync-pull-due-stores": {
        "task": "channels_sync.pull_due_stores",
        "schedule": timedelta(minutes=1),
    },
    "channels-sync-requeue-stuck-deliveries": {
        "task": "channels_sync.requeue_stuck_deliveries",
        "schedule": timedelta(minutes=2),
    },
    "channels-sync-prune-deliveries": {
        "task": "channels_sync.prune_deliveries",
        "schedule": timedelta(days=1),
    },
}

if SANDBOX_ENABLED:
    CELERY_BEAT_SCHEDULE["sandbox-world-tick"] = {"task": "sandbox.world_tick", "schedule": timedelta(seconds=10)}
    CELERY_BEAT_SCHEDULE["sandbox-deliver-webhooks"] = {
        "task": "sandbox.deliver_webhooks",
        "schedule": timedelta(seconds=2),
    }

# --- Auth -----------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "orders:center"
LOGOUT_REDIRECT_URL = "accounts:login"

# --- I18n -----------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("ar", _("Arabic")),
    ("fr", _("French")),
    ("pt-br", _("Portuguese (Brazil)")),
    ("de", _("German")),
    ("it", _("Italian")),
    ("nl", _("Dutch")),
    ("es", _("Spanish")),
    ("zh-hans", _("Chinese")),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", RUN_DIR / "static"))
# Production serves hashed, compressed files collected by ``collectstatic``; dev and tests
# (STATIC_MANIFEST=0) serve straight from the apps, no collect step.
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# --- Security (production profile when DEBUG is off) ------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Product settings -----------------------------------------------------------------
# Rows per order-center page. 25 keeps a page's server time near 20 ms at a million orders
# (rendering is most of it; see docs/benchmarks.md); merchants page with the keyset cursor.
ORDER_CENTER_PAGE_SIZE = int(os.environ.get("ORDER_CENTER_PAGE_SIZE", "25"))

# --- Channel sync -----------------------------------------------------------------------
# Key(s) for secrets at rest (channel tokens, webhook secrets): see channels_sync/crypto.py.
# Unset, a key is derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
# Where the channels reach this site: webhook addresses are <SITE_URL>/webhooks/<channel>/<store>/.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SYNC_PULL_INTERVAL = timedelta(minutes=int(os.environ.get("SYNC_PULL_INTERVAL_MINUTES", "5")))
SYNC_PULL_OVERLAP = timedelta(minutes=10)  # a pull re-reads this much before its cursor
SYNC_PULL_LOCK = timedelta(minutes=15)  # longer than a pull takes; a crashed pull frees the store then
SYNC_PULL_BACKOFF_MAX = timedelta(hours=1)  # a failing store is retried by beat at most this far apart
# Processed and ignored webhook deliveries are kept this long (raw bodies, for support), then pruned.
WEBHOOK_RETENTION = timedelta(days=int(os.environ.get("WEBHOOK_RETENTION_DAYS", "30")))
SYNC_PROVIDER_TIMEOUT = float(os.environ.get("SYNC_PROVIDER_TIMEOUT", "10"))  # seconds per read of a channel API call
if not SYNC_PROVIDER_TIMEOUT > 0:
    raise ImproperlyConfigured("SYNC_PROVIDER_TIMEOUT must be a number of seconds above 0.")
SYNC_PULL_PAGE_SIZE = 100  # orders per page of a pull (one upsert transaction per page)
