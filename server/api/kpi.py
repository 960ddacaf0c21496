"""API: kpi (being built for issue 7)."""

from flask_smorest import Blueprint

blp = Blueprint("kpi", __name__, url_prefix="/api/v1", description="kpi")
