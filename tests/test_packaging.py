"""What the README's production steps install is enough to run them."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements):
    return {re.split(r"[<>=\[ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_readme_production_install_brings_gunicorn_and_the_server():
    readme = (ROOT / "README.md").read_text()
    production = readme.split("## Running it in production", 1)[1].split("```")[1]
    install = re.search(r"pip install '?\.(\[([a-z,]+)\])?'?", production)
    assert install, "the production steps install the distribution"
    extras = (install.group(2) or "").split(",")
    project = _project()
    installed = _names(project["dependencies"])
    for extra in filter(None, extras):
        installed |= _names(project["optional-dependencies"][extra])
    assert {"gunicorn", "flask", "sqlalchemy", "psycopg"} <= installed
    assert "gunicorn" in production


def test_station_install_has_no_server_dependencies():
    project = _project()
    station = _names(project["dependencies"]) | _names(project["optional-dependencies"]["station"])
    assert not station & {"flask", "flask-sqlalchemy", "sqlalchemy", "flask-migrate", "gunicorn", "psycopg"}
    assert {"opencv-python-headless", "zxing-cpp", "pyserial"} <= station
    assert project["scripts"]["cellwms-station"] == "terminal.cli:run"
