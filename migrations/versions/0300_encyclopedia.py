"""health encyclopedia: tags, pins, views, full-text search

Revision ID: 0300
Revises: 0200
Create Date: 2026-12-01 09:00:00

Articles get tags (article_tags), a pin, a view count with views per local day
(article_daily_views), and `search_text`: title, summary and the body's plain text, written by the
application with every change. Full-text search that finds Chinese words inside sentences:

- SQLite: an FTS5 table with the trigram tokenizer over articles.search_text (external content),
  kept in step by triggers. A later migration that makes SQLite copy the articles table (batch
  mode) drops those triggers and must create them again.
- PostgreSQL: the pg_trgm extension and a GIN trigram index on articles.search_text, which LIKE
  and ILIKE patterns use.
"""

import html
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0300"
down_revision: str | None = "0200"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE articles_fts USING fts5("
    "search_text, content='articles', content_rowid='id', tokenize='trigram')",
    """CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END""",
    """CREATE TRIGGER articles_fts_update AFTER UPDATE OF search_text ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO articles_fts(rowid, search_text) VALUES (new.id, new.search_text); END""",
    "INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')",
]
POSTGRES_SEARCH = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_articles_search_trgm ON articles USING gin (search_text gin_trgm_ops)",
]

# A migration does not import application code: the application writes search_text from now on;
# rows that exist already get their text from this plain tag stripper.
_HIDDEN = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_END = re.compile(r"</(p|h[1-6]|li|blockquote|tr|td|th|figcaption)>|<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


def _search_text(title: str, summary: str, body: str) -> str:
    text = _TAG.sub("", _BLOCK_END.sub(" ", _HIDDEN.sub(" ", body)))
    text = _SPACES.sub(" ", html.unescape(text)).strip()
    return " ".join(part for part in (title.strip(), summary.strip(), text) if part)


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("view_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("search_text", sa.Text(), server_default="", nullable=False))

    op.create_table(
        "article_tags",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"], ["articles.id"], name=op.f("fk_article_tags_article_id_articles"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("article_id", "tag", name=op.f("pk_article_tags")),
    )
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_article_tags_tag"), ["tag"], unique=False)

    op.create_table(
        "article_daily_views",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name=op.f("fk_article_daily_views_article_id_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("article_id", "day", name=op.f("pk_article_daily_views")),
    )

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, title, summary, body FROM articles")).all()
    if rows:
        bind.execute(
            sa.text("UPDATE articles SET search_text = :text WHERE id = :id"),
            [{"id": r.id, "text": _search_text(r.title, r.summary, r.body)} for r in rows],
        )
    for statement in SQLITE_SEARCH if bind.dialect.name == "sqlite" else POSTGRES_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE articles_fts")
    else:
        # The extension stays: other objects may use it, and dropping it needs more rights.
        op.execute("DROP INDEX ix_articles_search_trgm")
    op.drop_table("article_daily_views")
    with op.batch_alter_table("article_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_article_tags_tag"))
    op.drop_table("article_tags")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_column("search_text")
        batch_op.drop_column("view_count")
        batch_op.drop_column("pinned")
        batch_op.drop_column("updated_at")
