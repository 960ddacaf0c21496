"""Pages: sign-in, home, and the flows' screens."""


def init_web(app) -> None:
    from server.extensions import login_manager
    from server.web import (
        admin_catalog,  # noqa: F401 (its pages join the admin blueprint)
        admin_layout,
        admin_packing,  # noqa: F401 (its pages join the admin blueprint)
        errors,
        pages,
        picking,
        printing,
        putaway,
        receiving,
        stations,
        warehouse_map,
        waves,
    )
    from server.web import orders as order_pages
    from server.web import webhooks as webhook_views

    # The sign-in page says why it is shown (it sees `next`); no untranslated flash from flask-login.
    login_manager.login_message = None
    app.register_blueprint(pages.web)
    app.register_blueprint(printing.printing)
    app.register_blueprint(stations.stations)
    app.register_blueprint(receiving.receiving)
    app.register_blueprint(putaway.putaway)
    app.register_blueprint(picking.picking)
    app.register_blueprint(warehouse_map.maps)
    app.register_blueprint(order_pages.orders)
    app.register_blueprint(webhook_views.webhook_pages)
    app.register_blueprint(waves.waves)
    app.register_blueprint(admin_layout.admin)  # the admin pages, the layout's among them
    errors.init_errors(app)
    from server.web.security_headers import init_security_headers

    init_security_headers(app)
