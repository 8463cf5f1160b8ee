"""Changes record their base version, the actors (normalised name, display name, via, OS
user), the sensitivity judgement, and a rebase link; a change can be ``superseded``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OLD = "status IN ('pending', 'applied', 'rejected', 'expired')"
NEW = "status IN ('pending', 'applied', 'rejected', 'expired', 'superseded')"


def upgrade() -> None:
    with op.batch_alter_table("pending_changes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("base_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rebased_from", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("requested_actor", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("decided_actor", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("judgement", sa.Text(), nullable=True))
        batch_op.drop_constraint(op.f("ck_pending_changes_status"), type_="check")
        batch_op.create_check_constraint("status", NEW)


def downgrade() -> None:
    with op.batch_alter_table("pending_changes", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_pending_changes_status"), type_="check")
        batch_op.create_check_constraint("status", OLD)
        batch_op.drop_column("judgement")
        batch_op.drop_column("decided_actor")
        batch_op.drop_column("requested_actor")
        batch_op.drop_column("rebased_from")
        batch_op.drop_column("base_version")
