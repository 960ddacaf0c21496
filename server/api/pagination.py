"""Paginated lists: views return a SELECT; the page runs it with LIMIT/OFFSET and counts it.

Use `@blp.paginate(SelectPage)`; clients pass `page` and `page_size` and read the
`X-Pagination` header (total, total_pages, first_page, last_page, page, previous_page, next_page).
"""

from flask_smorest import Page
from sqlalchemy import func, select

from server.core.bounds import INT32_MAX
from server.extensions import db
from server.problems import Problem


class SelectPage(Page):
    def __init__(self, collection, page_params):
        # flask-smorest bounds `page` only from below; past this no row exists and the OFFSET
        # would overflow the database's integer.
        if page_params.page > INT32_MAX:
            raise Problem(422, "validation-error", "Input not accepted.", f"page: at most {INT32_MAX}.",
                          errors={"page": [f"Must be less than or equal to {INT32_MAX}."]})
        super().__init__(collection, page_params)

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
