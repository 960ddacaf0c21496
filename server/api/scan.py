"""API: scan."""

from flask_smorest import Blueprint

blp = Blueprint("scan", __name__, url_prefix="/api/v1", description="scan")
