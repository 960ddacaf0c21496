"""API: putaway (being built for issue 7)."""

from flask_smorest import Blueprint

blp = Blueprint("putaway", __name__, url_prefix="/api/v1", description="putaway")
