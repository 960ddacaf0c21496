"""Print previews: what each label and receipt will look like on each printer model. A setup tool
(choosing printers and templates for the stations): supervisors and admins."""

from flask import Blueprint, Response, abort, render_template, request

from printers import documents
from printers.errors import TemplateError
from printers.profiles import ProfileError, available_profiles, load_profile
from server.auth import signed_in
from server.models import Role

printing = Blueprint("printing", __name__, template_folder="templates")

SETUP = (Role.supervisor, Role.admin)


@printing.get("/print")
@signed_in(*SETUP)
def index():
    profiles = [load_profile(name) for name in available_profiles()]
    chosen = request.args.get("profile") or (profiles[0].name if profiles else None)
    profile = next((p for p in profiles if p.name == chosen), None)
    if profile is None and profiles:
        abort(404)
    return render_template(
        "print_previews.html", profiles=profiles, profile=profile,
        templates=documents.templates_for(profile) if profile else [],
    )


@printing.get("/print/preview/<profile_name>/<template>.png")
@signed_in(*SETUP)
def preview(profile_name: str, template: str):
    """A template with its sample data, rendered as the printer would print it."""
    try:
        png = documents.preview_png(template, documents.sample(template), profile_name)
    except (TemplateError, ProfileError):
        abort(404)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})
