"""Every document by name for every printer model, and the preview pages."""

import pytest

from printers import documents
from printers.errors import TemplateError
from printers.profiles import available_profiles, load_profile
from tests import factories as f
from tests.test_pages import post, sign_in_badge, sign_in_password

PROFILES = [load_profile(name) for name in available_profiles()]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_every_template_of_a_printer_renders_and_previews(profile):
    templates = documents.templates_for(profile)
    assert templates
    for template in templates:
        job = documents.render(template, documents.sample(template), profile)
        png = documents.preview_png(template, documents.sample(template), profile)
        assert job and png.startswith(b"\x89PNG")


def test_a_label_is_refused_by_a_receipt_printer_and_unknown_templates_are_named():
    with pytest.raises(TemplateError, match="ESC/POS printers"):
        documents.render("packing-slip", documents.sample("packing-slip"), "zebra-zd421-203")
    with pytest.raises(TemplateError, match="unknown template 'pallet-label'"):
        documents.render("pallet-label", {}, "zebra-zd421-203")


def test_the_preview_page_shows_each_template_of_the_chosen_printer(client, db):
    f.user("maria", ("packer",), badge="BDG-7")
    f.user("olga", ("supervisor",), password="super-pass-1")
    db.session.commit()
    assert client.get("/print").status_code == 302  # sign in first
    sign_in_badge(client, "BDG-7")
    assert client.get("/print").status_code == 403  # printer setup: supervisors and admins
    post(client, "/sign-out", {}, token_from="/")
    sign_in_password(client, "olga", "super-pass-1")
    page = client.get("/print?profile=epson-tm-t20iii").get_data(as_text=True)
    assert "/print/preview/epson-tm-t20iii/packing-slip.png" in page
    assert "/print/preview/epson-tm-t20iii/handoff-act.png" in page
    image = client.get("/print/preview/zebra-zd421-203/shipping-label.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert client.get("/print/preview/zebra-zd421-203/packing-slip.png").status_code == 404
    assert client.get("/print?profile=no-such-printer").status_code == 404
