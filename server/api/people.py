"""API: people."""

from flask_smorest import Blueprint

blp = Blueprint("people", __name__, url_prefix="/api/v1", description="people")
