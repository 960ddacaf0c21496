"""The flows a home page offers, and which roles may open each.

A flow is shown as available once its page endpoint is registered (the blueprint of its issue
exists); until then it is listed as "not yet available" without a link.
"""

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l

from server.models import Role
from server.models.people import ALL_ROLES


@dataclass(frozen=True)
class Flow:
    key: str
    title: object  # lazy string
    summary: object
    roles: frozenset
    endpoint: str

    @property
    def available(self) -> bool:
        return self.endpoint in current_app.view_functions

    @property
    def url(self) -> str | None:
        return url_for(self.endpoint) if self.available else None


def _flow(key, title, summary, roles, endpoint) -> Flow:
    return Flow(key, title, summary, frozenset(roles), endpoint)


FLOWS = [
    _flow("receiving", _l("Receiving"), _l("Accept deliveries at the dock"), {Role.receiver}, "receiving.index"),
    _flow("putaway", _l("Putaway"), _l("Put received goods into cells"), {Role.receiver}, "putaway.index"),
    _flow("picking", _l("Picking"), _l("Pick orders along a route"), {Role.picker}, "picking.index"),
    _flow("packing", _l("Packing"), _l("Verify, weigh and pack orders"), {Role.packer}, "packing.index"),
    _flow("handoff", _l("Courier handoff"), _l("Hand parcels over to carriers"), {Role.dispatcher}, "handoff.index"),
    _flow("returns", _l("Returns"), _l("Grade returned goods"), {Role.returns}, "returns.index"),
    _flow(
        "counting", _l("Counting and inventory"), _l("Count cells and move stock"),
        {Role.receiver, Role.supervisor}, "counting.index",
    ),
    _flow(
        "supervision", _l("Supervision dashboard"), _l("Live throughput, queues and devices"),
        {Role.supervisor}, "supervision.index",
    ),
    _flow("orders", _l("Orders"), _l("Orders, their cards and timelines"), {Role.supervisor}, "orders_pages.index"),
    _flow("orders-confirm", _l("Orders to confirm"), _l("Call customers to confirm their orders"), {Role.supervisor},
          "orders_pages.confirm_list"),
    _flow("webhooks", _l("Webhooks"), _l("Order events sent to shops, and their delivery log"),
          {Role.supervisor}, "webhook_pages.index"),
    _flow("waves", _l("Waves"), _l("Release reserved orders to pickers in batches"), {Role.supervisor}, "waves.index"),
    _flow("admin-users", _l("Users"), _l("People, roles and badges"), {Role.admin}, "admin.users"),
    _flow("admin-stations", _l("Stations"), _l("Stations and their tokens"), {Role.admin}, "admin.stations"),
    _flow("admin-layout", _l("Warehouse layout"), _l("Zones and cells"), {Role.admin}, "admin.layout"),
    _flow("admin-devices", _l("Devices"), _l("Printer and device profiles in use"), {Role.admin}, "admin.devices"),
    _flow("admin-audit", _l("Audit log"), _l("Who changed what, and when"), {Role.admin}, "admin.audit_log"),
    _flow(
        "stations", _l("Station screens"), _l("Live prompts, devices and jobs at each station"),
        {Role.receiver, Role.picker, Role.packer, Role.dispatcher, Role.returns, Role.supervisor}, "stations.index",
    ),
    _flow("scan", _l("Scan check"), _l("Scan any barcode and see what it is"), ALL_ROLES, "web.scan"),
]


def flows_for(user) -> list[Flow]:
    """The flows `user`'s roles may open (admins: all): the available ones first, else in the order above."""
    return sorted((flow for flow in FLOWS if user.has_any_role(flow.roles)), key=lambda flow: not flow.available)
