"""invoice keys stored at load time

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 20:00:00

The reference keys of every invoice (``matcher.candidates.invoice_key_frame``)
were computed for all open invoices on every match run: 1.7 s of a 10,000-line
day against a million invoices.  They are now stored when invoices are loaded
(``ledger.invoice_keys``) and looked up by the keys a day's texts hold.
Existing invoices have ``keys_version`` NULL and are keyed by the next run.
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('invoice_keys',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('invoice_id', sa.String(length=64), nullable=False),
    sa.Column('rank', sa.SmallInteger(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.invoice_id'], name=op.f('fk_invoice_keys_invoice_id_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', 'invoice_id', name=op.f('pk_invoice_keys')),
    sqlite_with_rowid=False,
    )
    op.create_index(op.f('ix_invoice_keys_invoice_id'), 'invoice_keys', ['invoice_id'], unique=False)
    op.add_column('invoices', sa.Column('keys_version', sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_column('keys_version')
    op.drop_index(op.f('ix_invoice_keys_invoice_id'), table_name='invoice_keys')
    op.drop_table('invoice_keys')
