"""API: stock and movements."""

from flask_smorest import Blueprint

blp = Blueprint("stock", __name__, url_prefix="/api/v1", description="Stock and the movement ledger")
