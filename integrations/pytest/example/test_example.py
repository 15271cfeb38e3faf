"""pgboot's pytest example: each test gets a fresh clone of the template."""
import os

import pytest


def test_insert(pgboot_connection):
    with pgboot_connection.cursor() as cur:
        cur.execute("insert into items (name) values ('mine')")
        cur.execute("select count(*) from items")
        assert cur.fetchone()[0] == 2


def test_isolated(pgboot_connection):
    # whatever other tests wrote is not here: a fresh database per test
    with pgboot_connection.cursor() as cur:
        cur.execute("select name from items")
        assert cur.fetchall() == [("from the template",)]


def test_url(pgboot_database_url):
    assert pgboot_database_url.startswith("postgresql://")


@pytest.mark.skipif(not os.environ.get("PGBOOT_DEMO_FAILURE"),
                    reason="set PGBOOT_DEMO_FAILURE=1 to see a failed test's database kept")
def test_demo_failure(pgboot_database_url, pgboot_connection):
    with pgboot_connection.cursor() as cur:
        cur.execute("insert into items (name) values ('evidence')")
    pgboot_connection.commit()
    assert False, "fails on purpose: its database is kept, see the report"
