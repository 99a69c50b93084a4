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

# Values shipped in docker-compose.yml and the docs as "put yours here": never accepted with DEBUG off.
KNOWN_PLACEHOLDERS = ("change-me", "changeme", "insecure", "not-for-production", "placeholder")
MIN_SECRET_KEY_LENGTH = 50
KEY_HOWTO = 'python -c "import secrets; print(secrets.token_urlsafe(64))"'


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    return any(marker in lowered for marker in KNOWN_PLACEHOLDERS)


SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-0123456789abcdef"  # noqa: S105
elif not DEBUG and len(SECRET_KEY) < MIN_SECRET_KEY_LENGTH:
    raise ImproperlyConfigured(
        f"SECRET_KEY is too short for the production profile (DEBUG off): use {MIN_SECRET_KEY_LENGTH}+ random "
        f"characters, e.g. {KEY_HOWTO}."
    )
elif not DEBUG and _looks_like_placeholder(SECRET_KEY):
    raise ImproperlyConfigured(
        f"SECRET_KEY is a placeholder (docker-compose.yml's or the docs'): the production profile (DEBUG off) "
        f"refuses it. Put a real key in .env or the environment, e.g. {KEY_HOWTO}."
    )

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
    "axes",
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
    # Before the session: sees its cookie and Vary on the answers of session-free views (/t/<token>/).
    "accounts.middleware.SessionFreeCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.CurrentAccountMiddleware",
    # The user's language and the account's time zone (after the account is known).
    "accounts.middleware.LocaleChoiceMiddleware",
    "accounts.middleware.SessionIdleMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The simulated providers (sandbox/): on for make run and tests, off in the production profile.
# Tests and the ingest benchmark run the production profile with the sandbox on purpose, and say so.
SANDBOX_ENABLED = env_bool("SANDBOX_ENABLED", DEBUG)
SANDBOX_IN_PRODUCTION_FOR_TESTS = env_bool("SANDBOX_IN_PRODUCTION_FOR_TESTS", False)
if SANDBOX_ENABLED and not DEBUG and not SANDBOX_IN_PRODUCTION_FOR_TESTS:
    raise ImproperlyConfigured(
        "SANDBOX_ENABLED is on in the production profile (DEBUG off): the simulated providers would be served "
        "to the world. Unset SANDBOX_ENABLED (it is for make run and the tests); only a test run may set "
        "SANDBOX_IN_PRODUCTION_FOR_TESTS=1 to allow it."
    )
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
            # {{ amount|money:currency }} and {{ value|data }} everywhere (zopi/templatetags/display.py).
            "builtins": ["zopi.templatetags.display"],
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
    # Fulfillment push-back (channels_sync/services/push.py) has its own queue, first: a glob
    # route is taken in this order.
    "channels_sync.fulfillment_*": {"queue": "push"},
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
    "suppliers-run-auto-order-rules": {
        "task": "suppliers.run_auto_order_rules",
        "schedule": timedelta(minutes=1),
    },
    "suppliers-requeue-placement-results": {
        "task": "suppliers.requeue_placement_results",
        "schedule": timedelta(minutes=5),
    },
    "suppliers-reconcile-in-flight": {
        "task": "suppliers.reconcile_in_flight",
        "schedule": timedelta(minutes=1),
    },
    "channels-sync-requeue-stuck-deliveries": {
        "task": "channels_sync.requeue_stuck_deliveries",
        "schedule": timedelta(minutes=2),
    },
    "channels-sync-requeue-stuck-compliance-requests": {
        "task": "channels_sync.requeue_stuck_compliance_requests",
        "schedule": timedelta(minutes=5),
    },
    "channels-sync-refresh-due-tokens": {
        "task": "channels_sync.refresh_due_tokens",
        "schedule": timedelta(minutes=1),
    },
    "channels-sync-prune-deliveries": {
        "task": "channels_sync.prune_deliveries",
        "schedule": timedelta(days=1),
    },
    "channels-sync-prune-authorizations": {
        "task": "channels_sync.prune_authorizations",
        "schedule": timedelta(hours=1),
    },
    "channels-sync-prune-provider-attempts": {
        "task": "channels_sync.prune_provider_attempts",
        "schedule": timedelta(days=1),
    },
    "suppliers-refresh-due-tokens": {
        "task": "suppliers.refresh_due_tokens",
        "schedule": timedelta(minutes=1),
    },
    "suppliers-prune-attempts": {
        "task": "suppliers.prune_attempts",
        "schedule": timedelta(days=1),
    },
    "suppliers-prune-authorizations": {
        "task": "suppliers.prune_authorizations",
        "schedule": timedelta(days=1),
    },
}

if SANDBOX_ENABLED:
    CELERY_BEAT_SCHEDULE["sandbox-world-tick"] = {"task": "sandbox.world_tick", "schedule": timedelta(seconds=10)}
    CELERY_BEAT_SCHEDULE["sandbox-deliver-webhooks"] = {
        "task": "sandbox.deliver_webhooks",
        "schedule": timedelta(seconds=2),
    }
    CELERY_BEAT_SCHEDULE["sandbox-demo-refunds"] = {"task": "sandbox.demo_refunds", "schedule": timedelta(minutes=1)}

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

# --- Sign-in, sessions, secrets, guards --------------------------------------------------
# Password guessing (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for one username from
# one address, that pair is refused for the cool-off, on /accounts/login/ and /admin/ alike
# (axes hooks authenticate()). Counting the pair, not the username alone, keeps an attacker from
# locking a merchant out from elsewhere. Behind proxies, set SIGNIN_TRUSTED_PROXIES (how many
# proxies add to X-Forwarded-For in front of the app) so the client's address is counted, not the
# proxy's (accounts/signin.py); left at 0, REMOTE_ADDR is the address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("SIGNIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SIGNIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.signin.client_ip"
# No banner in every process at start (make run's terminal); failures and lockouts are still logged.
AXES_VERBOSE = False
SIGNIN_TRUSTED_PROXIES = int(os.environ.get("SIGNIN_TRUSTED_PROXIES", "0"))
if AXES_FAILURE_LIMIT < 1 or SIGNIN_TRUSTED_PROXIES < 0:
    raise ImproperlyConfigured("SIGNIN_FAILURE_LIMIT must be 1 or more and SIGNIN_TRUSTED_PROXIES 0 or more.")

# A session ends after SESSION_IDLE_MINUTES without a request (default 8 hours: a working day).
# Saving the session on every request would write its row on every htmx poll; instead
# accounts.middleware.SessionIdleMiddleware re-saves it (and so moves its expiry) at most once per
# SESSION_IDLE_REFRESH, so a session ends between IDLE - REFRESH and IDLE after the last request.
SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", str(8 * 60)))
if SESSION_IDLE_MINUTES < 1:
    raise ImproperlyConfigured("SESSION_IDLE_MINUTES must be 1 or more.")
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_IDLE_REFRESH = min(timedelta(minutes=5), timedelta(minutes=SESSION_IDLE_MINUTES) / 10)
SESSION_SAVE_EVERY_REQUEST = False

# Key(s) for secrets at rest (channel tokens, webhook secrets): see integrations/crypto.py. Several,
# comma-separated, newest first: the first encrypts, all decrypt; `manage.py rotate_secrets`
# re-encrypts with the first so the others can be dropped. Required with DEBUG off; in the dev
# profile, unset means a key derived from SECRET_KEY.
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY", "")
MIN_FIELD_KEY_LENGTH = 32
if not DEBUG:
    field_keys = [key.strip() for key in FIELD_ENCRYPTION_KEY.split(",") if key.strip()]
    if not field_keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be set when DEBUG is off (it encrypts channel tokens and webhook secrets), "
            'e.g. python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())".'
        )
    if any(len(key) < MIN_FIELD_KEY_LENGTH or _looks_like_placeholder(key) for key in field_keys):
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEY has a placeholder or a key shorter than {MIN_FIELD_KEY_LENGTH} characters: "
            "the production profile (DEBUG off) refuses it. Use Fernet keys "
            '(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
        )

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
# Where the channels reach this site: webhook addresses are <SITE_URL>/webhooks/<channel>/<store>/.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- The operator's apps (architecture rule 10) -------------------------------------------
# One app per channel, registered by whoever runs this order center; merchants connect through
# the channel's approval page and never see these. Empty: that channel's one-click connect is not
# offered (the advanced paths stay). The dev profile with the sandbox on gets the sandbox's own
# apps (sandbox.apps), so make run connects without any setup. See docs/channels.md.
_SANDBOX_APPS = SANDBOX_ENABLED and DEBUG
SHOPIFY_CLIENT_ID = os.environ.get("SHOPIFY_CLIENT_ID", "zopi-dev-shopify" if _SANDBOX_APPS else "")
SHOPIFY_CLIENT_SECRET = os.environ.get("SHOPIFY_CLIENT_SECRET", "zopi-dev-shopify-secret" if _SANDBOX_APPS else "")
# While the app's secret is rotated (docs/operations.md): the old one, still accepted on the
# webhooks, the compliance webhooks and the install callback; never used to call Shopify.
SHOPIFY_PREVIOUS_CLIENT_SECRET = os.environ.get("SHOPIFY_PREVIOUS_CLIENT_SECRET", "")
SHOPIFY_API_VERSION = os.environ.get("SHOPIFY_API_VERSION", "2026-10")
# Access scopes asked at install: orders (read), fulfillment orders and fulfillments (write).
SHOPIFY_SCOPES = os.environ.get(
    "SHOPIFY_SCOPES",
    "read_orders,write_merchant_managed_fulfillment_orders,write_third_party_fulfillment_orders,write_fulfillments",
)
# Where a shop lives, from its name (<name>.myshopify.com); the sandbox serves shops on this site.
SHOPIFY_SHOP_URL = os.environ.get(
    "SHOPIFY_SHOP_URL", f"{SITE_URL}/sandbox/shopify/{{shop}}" if _SANDBOX_APPS else "https://{shop}.myshopify.com"
)
TIKTOK_APP_KEY = os.environ.get("TIKTOK_APP_KEY", "zopi-dev-tiktok" if _SANDBOX_APPS else "")
TIKTOK_APP_SECRET = os.environ.get("TIKTOK_APP_SECRET", "zopi-dev-tiktok-secret" if _SANDBOX_APPS else "")
TIKTOK_SERVICE_ID = os.environ.get("TIKTOK_SERVICE_ID", "7000000000000000001" if _SANDBOX_APPS else "")
TIKTOK_AUTHORIZE_URL = os.environ.get(
    "TIKTOK_AUTHORIZE_URL",
    f"{SITE_URL}/sandbox/tiktok/open/authorize" if _SANDBOX_APPS else "https://services.tiktokshop.com/open/authorize",
)
TIKTOK_AUTH_URL = os.environ.get(
    "TIKTOK_AUTH_URL", f"{SITE_URL}/sandbox/tiktok" if _SANDBOX_APPS else "https://auth.tiktok-shops.com"
)
TIKTOK_API_URL = os.environ.get(
    "TIKTOK_API_URL", f"{SITE_URL}/sandbox/tiktok" if _SANDBOX_APPS else "https://open-api.tiktokglobalshop.com"
)
# The suppliers' API addresses (the operator's apps; the sandbox in development). Host rules in
# integrations.hosts refuse anything else outside the sandbox profile.
SUPPLIER_API_URLS = {
    "aliexpress": os.environ.get(
        "ALIEXPRESS_API_URL", f"{SITE_URL}/sandbox/aliexpress" if _SANDBOX_APPS else "https://api-sg.aliexpress.com"
    ),
    "cj": os.environ.get(
        "CJ_API_URL",
        f"{SITE_URL}/sandbox/cj/api2.0/v1" if _SANDBOX_APPS else "https://developers.cjdropshipping.com/api2.0/v1",
    ),
    # Temu has no public buyer API: only the sandbox's simulation exists.
    "temu": os.environ.get("TEMU_API_URL", f"{SITE_URL}/sandbox/temu/v1" if _SANDBOX_APPS else ""),
}
# The tracking provider (17TRACK Tracking API v2.2; the sandbox's simulation in development) and
# the security key it gave the operator (sent as the ``17token`` header, and the key of its
# webhook ``sign``). The host rule in tracking/providers/track17/client.py refuses any other host
# outside the sandbox profile.
TRACK17_API_URL = os.environ.get(
    "TRACK17_API_URL",
    f"{SITE_URL}/sandbox/17track/track/v2.2" if _SANDBOX_APPS else "https://api.17track.net/track/v2.2",
)
# The dev profile's key is the sandbox demo tracking account's (``sandbox_seed`` gives it that key).
TRACK17_API_KEY = os.environ.get("TRACK17_API_KEY", "ZOPIDEV17TRACKSECURITYKEY0000000" if _SANDBOX_APPS else "")
# Our own call rate to 17TRACK, every process together (tracking/services/provider.py): 17TRACK
# answers 429 above about 3 requests a second (external-apis.md section 5); 2 keeps a margin.
TRACK17_CALLS_PER_SECOND = float(os.environ.get("TRACK17_CALLS_PER_SECOND", "2"))
if TRACK17_CALLS_PER_SECOND < 0:
    raise ImproperlyConfigured("TRACK17_CALLS_PER_SECOND must be 0 (not paced) or more.")
# Seconds a supplier may take to answer one request (the lease on a supplier order is longer
# than the whole call: OUTBOUND_CALL_DEADLINE bounds it).
SUPPLIER_CALL_TIMEOUT = float(os.environ.get("SUPPLIER_CALL_TIMEOUT", "20"))
# AliExpress answers a repeat of an out_order_id with the order it made for 24 h: a create whose
# outcome is unknown is repeated only this long before that window ends (docs/suppliers.md).
SUPPLIER_REPEAT_MARGIN = float(os.environ.get("SUPPLIER_REPEAT_MARGIN_SECONDS", "3600"))
# The operator's AliExpress Open Platform app (Dropshipping API): merchants authorize it on
# AliExpress's page (ALIEXPRESS_AUTHORIZE_URL) and come back to /suppliers/aliexpress/callback/,
# which must be the app's registered callback URL. Empty key: AliExpress's Connect is not offered.
ALIEXPRESS_APP_KEY = os.environ.get("ALIEXPRESS_APP_KEY", "34567890" if _SANDBOX_APPS else "")
ALIEXPRESS_APP_SECRET = os.environ.get("ALIEXPRESS_APP_SECRET", "zopi-dev-aliexpress-secret" if _SANDBOX_APPS else "")
ALIEXPRESS_AUTHORIZE_URL = os.environ.get(
    "ALIEXPRESS_AUTHORIZE_URL",
    f"{SITE_URL}/sandbox/aliexpress/oauth/authorize"
    if _SANDBOX_APPS
    else "https://api-sg.aliexpress.com/oauth/authorize",
)
# CJ gives a new access token at most once per 5 minutes and refreshes 5 times a minute
# (docs/suppliers.md, "Supplier accounts"): one account asks for either no more often than this.
CJ_TOKEN_REFRESH_MIN_INTERVAL = timedelta(seconds=int(os.environ.get("CJ_TOKEN_REFRESH_MIN_INTERVAL_SECONDS", "300")))
# Our own pacing of supplier calls (suppliers.ratelimit; calls a second, 0 = not paced), shared by
# every process through Redis (the database without it). CJ limits each CJ account: 1/s for Free
# accounts (Plus 2, Prime 4, Advanced 6: CJ_CALLS_PER_SECOND to match yours). AliExpress limits
# each app key per API, per its QPS table (docs/suppliers.md, "Never twice (for support)", pacing).
SUPPLIER_RATE_LIMITS: dict[str, object] = {
    "cj": float(os.environ.get("CJ_CALLS_PER_SECOND", "1")),
    "aliexpress": {
        "aliexpress.ds.order.create": 150.0,
        "aliexpress.trade.ds.order.get": 1000.0,
        "aliexpress.ds.order.tracking.get": 100.0,
        "aliexpress.ds.freight.query": 350.0,
        "aliexpress.ds.product.get": 500.0,
        "aliexpress.ds.address.get": 4.0,
        "*": float(os.environ.get("ALIEXPRESS_CALLS_PER_SECOND", "100")),
    },
}
# Calls at once after a quiet spell (1: always evenly spaced, what a per-second limit allows).
SUPPLIER_RATE_BURST = int(os.environ.get("SUPPLIER_RATE_BURST", "1"))
if SUPPLIER_RATE_BURST < 1:
    raise ImproperlyConfigured("SUPPLIER_RATE_BURST must be 1 or more.")
WOOCOMMERCE_APP_NAME = os.environ.get("WOOCOMMERCE_APP_NAME", "Zopi order center")
# An approval not come back within this long is void (its state is refused).
CHANNEL_AUTHORIZATION_TTL = timedelta(minutes=int(os.environ.get("CHANNEL_AUTHORIZATION_TTL_MINUTES", "30")))
# Expiring tokens are refreshed this long before they expire (Shopify's live an hour; a token living
# less than this is refreshed at every use: tests with minutes-long sandbox tokens set it lower).
TOKEN_REFRESH_AHEAD = timedelta(seconds=int(os.environ.get("TOKEN_REFRESH_AHEAD_SECONDS", "300")))
# A refresh claimed by a worker that died is taken over after this long: longer than any refresh
# call may take (OUTBOUND_CALL_DEADLINE, defined below, bounds it), so a slow one is never doubled.
TOKEN_REFRESH_CLAIM = timedelta(seconds=max(60, float(os.environ.get("OUTBOUND_CALL_DEADLINE", "30")) + 30))

SYNC_PULL_INTERVAL = timedelta(minutes=int(os.environ.get("SYNC_PULL_INTERVAL_MINUTES", "5")))
SYNC_PULL_OVERLAP = timedelta(minutes=10)  # a pull re-reads this much before its cursor
SYNC_PULL_BACKOFF_MAX = timedelta(hours=1)  # a failing store is retried by beat at most this far apart
# Processed and ignored webhook deliveries are kept this long (raw bodies, for support), then pruned.
WEBHOOK_RETENTION = timedelta(days=int(os.environ.get("WEBHOOK_RETENTION_DAYS", "30")))
SYNC_PROVIDER_TIMEOUT = float(os.environ.get("SYNC_PROVIDER_TIMEOUT", "10"))  # seconds per read of a channel API call
if not SYNC_PROVIDER_TIMEOUT > 0:
    raise ImproperlyConfigured("SYNC_PROVIDER_TIMEOUT must be a number of seconds above 0.")
SYNC_PULL_PAGE_SIZE = 100  # orders per page of a pull (one upsert transaction per page)

# --- Outbound calls (integrations) ---
# Every call to a channel, supplier or tracker (integrations/http.py); docs/operations.md,
# "Host policy and outbound calls".
# Loopback addresses (the sandbox) are callable only when this is on: the dev profile (make run)
# and the tests turn it on; production leaves it off.
OUTBOUND_ALLOW_LOOPBACK = env_bool("OUTBOUND_ALLOW_LOOPBACK", False)
if OUTBOUND_ALLOW_LOOPBACK and not DEBUG and not SANDBOX_IN_PRODUCTION_FOR_TESTS:
    raise ImproperlyConfigured(
        "OUTBOUND_ALLOW_LOOPBACK is on in the production profile (DEBUG off): workers would call addresses "
        "on this machine with merchants' tokens. It is for make run and the tests; only a test run may set "
        "SANDBOX_IN_PRODUCTION_FOR_TESTS=1 to allow it."
    )
# One deadline for a whole call (connect, TLS, request, answer, retries and short waits): a
# server that drips its answer cannot hold a worker longer.
OUTBOUND_CALL_DEADLINE = float(os.environ.get("OUTBOUND_CALL_DEADLINE", "30"))
# An answer larger than this is refused (read streamed, never held whole past the cap).
OUTBOUND_MAX_RESPONSE_BYTES = int(os.environ.get("OUTBOUND_MAX_RESPONSE_BYTES", str(16 * 1024 * 1024)))
# A wait (Retry-After, backoff, Shopify's bucket) longer than this is not slept in a worker: the
# call fails retryable with retry_after and the task retries with that countdown.
OUTBOUND_MAX_INLINE_WAIT = float(os.environ.get("OUTBOUND_MAX_INLINE_WAIT", "2"))
# A CA bundle to verify TLS with instead of the system's (a private CA; the tests' own).
OUTBOUND_CA_FILE = os.environ.get("OUTBOUND_CA_FILE", "")
# Name → addresses consulted before DNS (like curl --resolve): the tests' resolver seam; empty
# in every profile (not read from the environment).
OUTBOUND_RESOLVE: dict[str, list[str]] = {}
for _name, _value in (
    ("OUTBOUND_CALL_DEADLINE", OUTBOUND_CALL_DEADLINE),
    ("OUTBOUND_MAX_RESPONSE_BYTES", OUTBOUND_MAX_RESPONSE_BYTES),
):
    if not _value > 0:
        raise ImproperlyConfigured(f"{_name} must be above 0.")
if not OUTBOUND_MAX_INLINE_WAIT >= 0:
    raise ImproperlyConfigured("OUTBOUND_MAX_INLINE_WAIT must be 0 or more seconds.")
# The channel calls of one page action a merchant waits for (disconnect, a new webhook address)
# end within this many seconds all together, well inside the web server's timeout (gunicorn: 60 s).
OUTBOUND_INTERACTIVE_BUDGET = float(os.environ.get("OUTBOUND_INTERACTIVE_BUDGET", "20"))
if not OUTBOUND_INTERACTIVE_BUDGET > 0:
    raise ImproperlyConfigured("OUTBOUND_INTERACTIVE_BUDGET must be above 0.")
# Every outbound attempt is kept for support (admin: Provider attempts) this long, then pruned daily.
PROVIDER_ATTEMPT_RETENTION = timedelta(days=int(os.environ.get("PROVIDER_ATTEMPT_RETENTION_DAYS", "14")))

# --- Pull and connect bounds ---------------------------------------------------------------
# A pull stops by itself after this long (then saves where it is and queues its next run), below
# the task's soft time limit: a store too big for one run is imported over several.
SYNC_PULL_TIME_BUDGET = timedelta(
    seconds=float(os.environ.get("SYNC_PULL_TIME_BUDGET_SECONDS", str(CELERY_TASK_SOFT_TIME_LIMIT - 120)))
)
if not timedelta(0) < SYNC_PULL_TIME_BUDGET < timedelta(seconds=CELERY_TASK_SOFT_TIME_LIMIT):
    raise ImproperlyConfigured("SYNC_PULL_TIME_BUDGET_SECONDS must be above 0 and below CELERY_TASK_SOFT_TIME_LIMIT.")
# A pull holds its store this long from its last page: longer than a task may live, so a lock
# that runs out means the pull's worker is gone (counted as a failed pull).
SYNC_PULL_LOCK = timedelta(seconds=CELERY_TASK_TIME_LIMIT + 60)
# A queued pull no worker took within this long is taken for lost: beat may queue it again.
SYNC_PULL_QUEUED_EXPIRY = timedelta(minutes=30)
# The first import of a new store covers the orders created or changed in these last days (0: all).
SYNC_IMPORT_WINDOW_DAYS = int(os.environ.get("SYNC_IMPORT_WINDOW_DAYS", "60"))
if SYNC_IMPORT_WINDOW_DAYS < 0:
    raise ImproperlyConfigured("SYNC_IMPORT_WINDOW_DAYS must be 0 (all orders) or more.")

# --- Webhook intake limits ---
# Per store (channels_sync/services/intake_limit.py): its address takes WEBHOOK_RATE_BURST
# requests in each window of BURST / PER_SECOND seconds (here 2,000 per 20 s), then 429 with
# Retry-After until the window ends; counted in the cache. WEBHOOK_RATE_PER_SECOND=0 turns it off.
WEBHOOK_RATE_PER_SECOND = float(os.environ.get("WEBHOOK_RATE_PER_SECOND", "100"))
WEBHOOK_RATE_BURST = int(os.environ.get("WEBHOOK_RATE_BURST", "2000"))
if WEBHOOK_RATE_PER_SECOND < 0 or WEBHOOK_RATE_BURST < 1:
    raise ImproperlyConfigured("WEBHOOK_RATE_PER_SECOND must be 0 or more and WEBHOOK_RATE_BURST 1 or more.")

# --- Supplier sync, AliExpress messages, channel cancellations (docs/suppliers.md) ---------
CELERY_BEAT_SCHEDULE["suppliers-sync-due-supplier-orders"] = {
    "task": "suppliers.sync_due_supplier_orders",
    "schedule": timedelta(minutes=1),
}
CELERY_BEAT_SCHEDULE["suppliers-requeue-pending-messages"] = {
    "task": "suppliers.requeue_pending_messages",
    "schedule": timedelta(minutes=5),
}
CELERY_BEAT_SCHEDULE["suppliers-sweep-channel-cancels"] = {
    "task": "suppliers.sweep_channel_cancels",
    "schedule": timedelta(minutes=10),
}
# --- Refunds asked of suppliers (suppliers/services/refund_send.py) -----------------------
# The task a new refund request is sent by, by name, after it commits ("": stored, swept later).
REFUND_SEND_TASK = os.environ.get("REFUND_SEND_TASK", "suppliers.refund_send")
# The longest an open refund waits between two reads of the supplier (in review, approved, overdue).
# make run sets 2: its demo suppliers decide and pay refunds 240 times quicker.
REFUND_SYNC_MAX_WAIT_MINUTES = int(os.environ.get("REFUND_SYNC_MAX_WAIT_MINUTES", "60"))
if REFUND_SYNC_MAX_WAIT_MINUTES < 1:
    raise ImproperlyConfigured("REFUND_SYNC_MAX_WAIT_MINUTES must be 1 or more.")
CELERY_BEAT_SCHEDULE["suppliers-sync-due-refunds"] = {
    "task": "suppliers.sync_due_refunds",
    "schedule": timedelta(minutes=5),
}
CELERY_BEAT_SCHEDULE["suppliers-flag-refund-overdue"] = {
    "task": "suppliers.flag_refund_overdue",
    "schedule": timedelta(minutes=10),
}
# The order-status messages AliExpress pushes are checked with the operator's app
# (ALIEXPRESS_APP_KEY / ALIEXPRESS_APP_SECRET, above).
# The tracking app's task a new supplier tracking number is handed to, by name, with the supplier
# order's id and the parcel's facts (tracking/services/handover.py; "": the number is stored and
# shown only).
SUPPLIER_TRACKING_TASK = os.environ.get("SUPPLIER_TRACKING_TASK", "tracking.shipment_handover")
# How often a paid supplier order without a tracking number is read (suppliers/services/sync.py):
# the tracking number's latency to the channel is this plus about a minute (docs/tracking.md).
# Each read is one supplier call, paced under the account's rate with the placements.
SUPPLIER_SYNC_PAID_MINUTES = int(os.environ.get("SUPPLIER_SYNC_PAID_MINUTES", "10"))
# Tracking's daily job (docs/tracking.md, "Expired, stalled, the public page"): parcels silent past
# the account's days turn Expired and are stopped at the provider; stalled orders are flagged.
CELERY_BEAT_SCHEDULE["tracking-expire-and-flag-stalled"] = {
    "task": "tracking.expire_and_flag_stalled",
    "schedule": timedelta(days=1),
}
# The public tracking page (/t/<token>/): shared caches may keep it TRACKING_PAGE_MAX_AGE seconds;
# one client address gets TRACKING_PAGE_RATE_LIMIT pages per TRACKING_PAGE_RATE_WINDOW seconds, then
# 429 with Retry-After (counted in the cache; 0 turns the limit off).
TRACKING_PAGE_MAX_AGE = int(os.environ.get("TRACKING_PAGE_MAX_AGE", "300"))
TRACKING_PAGE_RATE_LIMIT = int(os.environ.get("TRACKING_PAGE_RATE_LIMIT", "60"))
TRACKING_PAGE_RATE_WINDOW = int(os.environ.get("TRACKING_PAGE_RATE_WINDOW", "60"))
if TRACKING_PAGE_MAX_AGE < 0 or TRACKING_PAGE_RATE_LIMIT < 0 or TRACKING_PAGE_RATE_WINDOW < 1:
    raise ImproperlyConfigured(
        "TRACKING_PAGE_MAX_AGE and TRACKING_PAGE_RATE_LIMIT must be 0 or more, TRACKING_PAGE_RATE_WINDOW 1 or more."
    )
# The supplier's own tracking as a fallback (docs/tracking.md, "Supplier tracking fallback"): a
# registered parcel the tracking provider still has nothing for TRACKING_FALLBACK_AFTER_HOURS after
# the handover is asked of its supplier by name (SUPPLIER_TRACKING_FALLBACK_TASK), at most once per
# TRACKING_FALLBACK_EVERY_HOURS; the supplier's scans come back by name (SUPPLIER_EVENTS_MERGE_TASK).
# An empty task name turns that side off.
SUPPLIER_TRACKING_FALLBACK_TASK = os.environ.get("SUPPLIER_TRACKING_FALLBACK_TASK", "suppliers.tracking_fallback_fetch")
SUPPLIER_EVENTS_MERGE_TASK = os.environ.get("SUPPLIER_EVENTS_MERGE_TASK", "tracking.supplier_events_merge")
TRACKING_FALLBACK_AFTER_HOURS = float(os.environ.get("TRACKING_FALLBACK_AFTER_HOURS", "6"))
TRACKING_FALLBACK_EVERY_HOURS = float(os.environ.get("TRACKING_FALLBACK_EVERY_HOURS", "12"))
if not (0 <= TRACKING_FALLBACK_AFTER_HOURS <= 24 * 90 and 0 < TRACKING_FALLBACK_EVERY_HOURS <= 24 * 90):
    raise ImproperlyConfigured(
        "TRACKING_FALLBACK_AFTER_HOURS must be 0-2160 and TRACKING_FALLBACK_EVERY_HOURS above 0, at most 2160."
    )
# The channels_sync task tracking hands a new parcel to for the fulfillment push-back, by name.
FULFILLMENT_PUSH_TASK = os.environ.get("FULFILLMENT_PUSH_TASK", "channels_sync.fulfillment_push_request")
# Tracking (docs/tracking.md, "Shipments"): register new numbers, poll due shipments, re-queue
# webhook pushes left pending.
CELERY_BEAT_SCHEDULE["tracking-register-due"] = {"task": "tracking.register_due", "schedule": timedelta(minutes=1)}
CELERY_BEAT_SCHEDULE["tracking-poll-due"] = {"task": "tracking.poll_due", "schedule": timedelta(minutes=1)}
CELERY_BEAT_SCHEDULE["tracking-requeue-messages"] = {
    "task": "tracking.requeue_tracking_messages",
    "schedule": timedelta(minutes=5),
}
# Fulfillment push-back's sweep: due retries, and pushes a dead worker held (docs/channels.md).
CELERY_BEAT_SCHEDULE["channels-sync-fulfillment-pushes-due"] = {
    "task": "channels_sync.fulfillment_pushes_due",
    "schedule": timedelta(minutes=1),
}
