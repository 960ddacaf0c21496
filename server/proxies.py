"""Trusted proxies: how many reverse proxies / load balancers stand in front of the server.

With CELLWMS_TRUSTED_PROXIES=N (N > 0) the last N hops of X-Forwarded-For, -Proto, -Host and
-Port are believed (werkzeug's ProxyFix), so `request.remote_addr` is the real client (what the
sign-in limits count per address) and `request.scheme` the one the browser used. With 0 (the
default) those headers are ignored: a client cannot claim another address by sending them.
"""

from werkzeug.middleware.proxy_fix import ProxyFix


class TrustedProxies:
    """WSGI middleware reading the hop count from the app's config at each request."""

    def __init__(self, wsgi_app, flask_app):
        self.wsgi_app = wsgi_app
        self.flask_app = flask_app

    def __call__(self, environ, start_response):
        hops = int(self.flask_app.config.get("CELLWMS_TRUSTED_PROXIES", 0) or 0)
        if hops <= 0:
            return self.wsgi_app(environ, start_response)
        fixed = ProxyFix(self.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
        return fixed(environ, start_response)
