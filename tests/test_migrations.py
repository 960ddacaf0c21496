"""The Alembic migrations build exactly the schema the models describe, on both databases."""

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from server.extensions import db as _db
from server.models import Quant
from tests import factories as f


def test_migrated_schema_matches_the_models(db):
    with _db.engine.connect() as connection, warnings.catch_warnings():
        # Expression indexes cannot be reflected; the next test checks the one we have.
        warnings.simplefilter("ignore")
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, _db.metadata)
    assert differences == []


def test_one_quant_per_cell_sku_lot_and_expiry_even_without_expiry(db):
    _, _, (cell, *_), sku = f.stocked_warehouse()
    db.session.add(Quant(cell_id=cell.id, sku_id=sku.id, lot="", expiry=None, quantity=1))
    db.session.commit()
    db.session.add(Quant(cell_id=cell.id, sku_id=sku.id, lot="", expiry=None, quantity=2))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
