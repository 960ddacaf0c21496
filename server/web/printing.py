"""Print previews: what each label and receipt will look like on each printer model."""

from flask import Blueprint, Response, abort, render_template, request
from flask_login import login_required

from printers import documents
from printers.errors import TemplateError
from printers.profiles import ProfileError, available_profiles, load_profile

printing = Blueprint("printing", __name__, template_folder="templates")


@printing.get("/print")
@login_required
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
@login_required
def preview(profile_name: str, template: str):
    """A template with its sample data, rendered as the printer would print it."""
    try:
        png = documents.preview_png(template, documents.sample(template), profile_name)
    except (TemplateError, ProfileError):
        abort(404)
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})
