"""The shared PostgreSQL fixture gives each test a fresh, usable database."""

from __future__ import annotations

import sqlalchemy as sa


def test_postgres_url_is_a_fresh_writable_database(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text("select count(*) from pg_tables "
                                        "where schemaname = 'public'")).scalar() == 0
            conn.execute(sa.text("create table t (x int)"))
            conn.execute(sa.text("insert into t values (1)"))
            assert conn.execute(sa.text("select sum(x) from t")).scalar() == 1
    finally:
        engine.dispose()
