"""Sign-in and home pages."""

from flask import Blueprint

web = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


@web.get("/")
def home():
    return "cellwms"
