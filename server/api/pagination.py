"""Paginated lists: views return a SELECT; the page runs it with LIMIT/OFFSET and counts it.

Use `@blp.paginate(SelectPage)`; clients pass `page` and `page_size` and read the
`X-Pagination` header (total, total_pages, first_page, last_page, page, previous_page, next_page).
"""

from flask_smorest import Page
from sqlalchemy import func, select

from server.extensions import db


class SelectPage(Page):
    @property
    def items(self):
        params = self.page_params
        return (
            db.session.execute(self.collection.offset(params.first_item).limit(params.page_size))
            .scalars()
            .all()
        )

    @property
    def item_count(self):
        counted = self.collection.order_by(None).subquery()
        return db.session.execute(select(func.count()).select_from(counted)).scalar_one()
