"""API: warehouse."""

from flask_smorest import Blueprint

blp = Blueprint("warehouse", __name__, url_prefix="/api/v1", description="warehouse")
