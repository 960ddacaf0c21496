"""Languages: English and Russian. The choice comes from the session, the user, or the browser."""

from flask import current_app, has_request_context, request, session
from flask_login import current_user


def select_locale() -> str:
    default = current_app.config["BABEL_DEFAULT_LOCALE"]
    if not has_request_context():  # CLI, benchmarks, background work
        return default
    languages = current_app.config["CELLWMS_LANGUAGES"]
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    return request.accept_languages.best_match(languages) or default
