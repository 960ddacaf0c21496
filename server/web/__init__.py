"""Pages: sign-in, home, and the flows' screens."""


def init_web(app) -> None:
    from server.web import pages

    app.register_blueprint(pages.web)
