"""The demo's webhooks: an emulated shop receiver on 127.0.0.1 that checks every signature and
appends what it got to a log (shown at /webhooks/demo-receiver), the demo's subscription to "*"
pointing at it, and one worker thread sending the outbox. Stopped with the demo."""

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import select

from server.commands.worker import Worker
from server.extensions import db
from server.models import WebhookSubscription
from server.services import webhooks
from server.web.webhooks import demo_receiver_log

DEMO_DESCRIPTION = "demo receiver (emulated shop)"
MAX_BODY = 1024 * 1024


class DemoReceiver:
    def __init__(self, log_path: Path, secret: str):
        self.log_path = log_path
        self.secret = secret
        self.lock = threading.Lock()
        self.httpd = None
        self.thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}/webhooks"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                body = self.rfile.read(length)
                ok = webhooks.verify(receiver.secret, body, self.headers.get(webhooks.SIGNATURE_HEADER, ""))
                receiver.note(self.headers, body, ok)
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="demo-webhook-receiver", daemon=True)
        self.thread.start()

    def note(self, headers, body: bytes, ok: bool) -> None:
        try:
            document = json.loads(body)
        except ValueError:
            document = {}
        order = document.get("order") or {}
        entry = {"received_at": datetime.now(UTC).isoformat(timespec="seconds"),
                 "delivery": headers.get(webhooks.DELIVERY_HEADER), "event": headers.get(webhooks.EVENT_HEADER),
                 "signature_ok": ok, "order_number": order.get("number"), "order_status": order.get("status"),
                 "body": document}
        with self.lock, self.log_path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(entry, ensure_ascii=False) + "\n")

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


class DemoWebhooks:
    """The receiver, its subscription and a worker thread, started and stopped together."""

    def __init__(self, app):
        self.app = app
        self.receiver = None
        self.worker = None
        self.thread = None

    def start(self) -> list[str]:
        with self.app.app_context():
            subscription = db.session.execute(select(WebhookSubscription).where(
                WebhookSubscription.description == DEMO_DESCRIPTION)).scalar_one_or_none()
            if subscription is None:
                subscription = WebhookSubscription(url="http://127.0.0.1/", events=["*"], description=DEMO_DESCRIPTION,
                                                   secret=webhooks.new_secret(), active=True)
                db.session.add(subscription)
            self.receiver = DemoReceiver(demo_receiver_log(self.app), subscription.secret)
            self.receiver.start()
            subscription.url = self.receiver.url  # a new port at every start
            subscription.active = True
            db.session.commit()
            db.session.remove()
        self.worker = Worker(self.app)
        self.thread = threading.Thread(target=self.worker.run, name="demo-worker", daemon=True)
        self.thread.start()
        return [f"demo webhook receiver (emulated shop) at {self.receiver.url}, subscribed to every order event",
                f"  what it received: {self.receiver.log_path}",
                "  one worker (cellwms worker) sends the webhooks, in this process"]

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop.set()
            self.thread.join(10)
        if self.receiver is not None:
            self.receiver.stop()
