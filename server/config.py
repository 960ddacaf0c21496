"""Configuration from the environment.

Every setting can come from an environment variable of the same name; `create_app(config)`
overrides win over the environment.
"""

import os
import secrets
from pathlib import Path


def _normalize_database_url(url: str) -> str:
    # psycopg 3 is the driver we ship; accept the plain postgres:// forms people paste.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def load_config(instance_path: str, overrides: dict | None = None) -> dict:
    overrides = dict(overrides or {})
    env = os.environ
    instance = Path(instance_path)
    database_url = overrides.pop("DATABASE_URL", None) or env.get("DATABASE_URL")
    if not database_url:
        database_url = f"sqlite:///{instance / 'cellwms.db'}"
    secret_key = env.get("SECRET_KEY") or _instance_secret(instance)
    config = {
        "SQLALCHEMY_DATABASE_URI": _normalize_database_url(database_url),
        "SECRET_KEY": secret_key,
        "MEDIA_DIR": env.get("MEDIA_DIR", str(instance / "media")),
        # The Ed25519 key that signs evidence packs (unset: evidence-ed25519.pem in the instance folder).
        "CELLWMS_EVIDENCE_KEY_FILE": env.get("CELLWMS_EVIDENCE_KEY_FILE", ""),
        "CELLWMS_SQLITE_BUSY_TIMEOUT_MS": int(env.get("CELLWMS_SQLITE_BUSY_TIMEOUT_MS", "30000")),
        # How long a call waits for its twin with the same Idempotency-Key (PostgreSQL) before 503.
        "CELLWMS_IDEMPOTENCY_WAIT_MS": int(env.get("CELLWMS_IDEMPOTENCY_WAIT_MS", "10000")),
        # Longest scan payload accepted, in bytes; longer ones are recorded truncated.
        "CELLWMS_SCAN_MAX_BYTES": int(env.get("CELLWMS_SCAN_MAX_BYTES", "16384")),
        # The character page scanners type for GS (unset: none); a handheld's own setting wins.
        "CELLWMS_WEDGE_GS": env.get("CELLWMS_WEDGE_GS", ""),
        # Live station screens (Server-Sent Events): lifetime before the browser reconnects, poll, keep-alive.
        "CELLWMS_STREAM_SECONDS": float(env.get("CELLWMS_STREAM_SECONDS", "180")),
        "CELLWMS_STREAM_POLL_SECONDS": float(env.get("CELLWMS_STREAM_POLL_SECONDS", "0.3")),
        # Keep-alive comments also find clients that went away (the write fails, the thread is freed).
        "CELLWMS_STREAM_KEEPALIVE_SECONDS": float(env.get("CELLWMS_STREAM_KEEPALIVE_SECONDS", "5")),
        # Live streams one user may hold open at once (every worker counts the same, in the database).
        "CELLWMS_STREAMS_PER_USER": int(env.get("CELLWMS_STREAMS_PER_USER", "2")),
        # Failed sign-ins: the window and the limits per account and per client address.
        "CELLWMS_SIGNIN_WINDOW_SECONDS": int(env.get("CELLWMS_SIGNIN_WINDOW_SECONDS", "900")),
        "CELLWMS_SIGNIN_MAX_PER_USER": int(env.get("CELLWMS_SIGNIN_MAX_PER_USER", "5")),
        "CELLWMS_SIGNIN_MAX_PER_ADDRESS": int(env.get("CELLWMS_SIGNIN_MAX_PER_ADDRESS", "30")),
        # Webhooks (docs/webhooks.md): the HTTP timeout of one attempt, attempts before a delivery is
        # failed, the wait after a failed attempt (base * 2^(attempts - 1), capped), how long a
        # worker's claim on a delivery lasts, deliveries per pass and the worker's idle poll.
        "CELLWMS_WEBHOOK_TIMEOUT_SECONDS": float(env.get("CELLWMS_WEBHOOK_TIMEOUT_SECONDS", "10")),
        "CELLWMS_WEBHOOK_MAX_ATTEMPTS": int(env.get("CELLWMS_WEBHOOK_MAX_ATTEMPTS", "8")),
        "CELLWMS_WEBHOOK_BACKOFF_SECONDS": float(env.get("CELLWMS_WEBHOOK_BACKOFF_SECONDS", "30")),
        "CELLWMS_WEBHOOK_BACKOFF_MAX_SECONDS": float(env.get("CELLWMS_WEBHOOK_BACKOFF_MAX_SECONDS", "3600")),
        "CELLWMS_WEBHOOK_CLAIM_SECONDS": float(env.get("CELLWMS_WEBHOOK_CLAIM_SECONDS", "300")),
        "CELLWMS_WEBHOOK_BATCH": int(env.get("CELLWMS_WEBHOOK_BATCH", "20")),
        "CELLWMS_WORKER_POLL_SECONDS": float(env.get("CELLWMS_WORKER_POLL_SECONDS", "2")),
        # The GS1 company prefix of the parcels' SSCCs (7 to 10 digits; see server/services/carriers.py).
        "CELLWMS_GS1_COMPANY_PREFIX": env.get("CELLWMS_GS1_COMPANY_PREFIX", "2000000"),
        "MAX_CONTENT_LENGTH": int(env.get("MAX_CONTENT_LENGTH", str(64 * 1024 * 1024))),
        "BABEL_DEFAULT_LOCALE": env.get("BABEL_DEFAULT_LOCALE", "en"),
        "CELLWMS_LANGUAGES": ["en", "ru"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Cookies only over HTTPS: set CELLWMS_SECURE_COOKIES=1 wherever the site is served by HTTPS.
        "SESSION_COOKIE_SECURE": _flag(env.get("CELLWMS_SECURE_COOKIES", env.get("SESSION_COOKIE_SECURE", "0"))),
        "REMEMBER_COOKIE_SECURE": _flag(env.get("CELLWMS_SECURE_COOKIES", env.get("SESSION_COOKIE_SECURE", "0"))),
        # Reverse proxies / load balancers in front of the server whose X-Forwarded-* headers are believed.
        "CELLWMS_TRUSTED_PROXIES": int(env.get("CELLWMS_TRUSTED_PROXIES", "0")),
        # A session signs out by itself this long after its sign-in, however active it is.
        "CELLWMS_SESSION_MAX_SECONDS": int(env.get("CELLWMS_SESSION_MAX_SECONDS", str(12 * 3600))),
        "REMEMBER_COOKIE_DURATION": 12 * 3600,
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "API_TITLE": "cellwms",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": None,
        "API_PAGE_SIZE_MAX": 500,
        # Enough connections for a threaded server or 20 concurrent workers in one process.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20},
    }
    config.update(overrides)
    if "SQLALCHEMY_DATABASE_URI" in overrides:
        config["SQLALCHEMY_DATABASE_URI"] = _normalize_database_url(overrides["SQLALCHEMY_DATABASE_URI"])
    return config


def _instance_secret(instance: Path) -> str:
    """A random key kept in the instance folder, so sessions survive restarts of one install."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
