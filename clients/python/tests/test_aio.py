"""outpost.aio: the same functions as coroutines, on a psycopg
AsyncConnection (commit vs rollback), inside Django (joining the caller's
transaction), and the async status/cancel/retry."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from asgiref.sync import async_to_sync
from django.db import connection as django_connection
from django.db import transaction

import outpost.aio as aio
from conftest import message_row, wait_status


def test_async_variants_make_the_same_rows_and_roll_back(db_url: str, conn: psycopg.Connection[Any]) -> None:
    later = datetime.now(timezone.utc) + timedelta(days=1)

    async def main() -> tuple[list[int], list[int]]:
        async with await psycopg.AsyncConnection.connect(db_url) as aconn:
            await aconn.execute("INSERT INTO outpost.recipients (user_id, tenant) VALUES ('a1', 'ta')")
            await aconn.execute("INSERT INTO outpost.messaging_configs (tenant, enabled) VALUES ('ta', true)")
            kept = [
                await aio.send_mail_template("welcome", to_user="a1", context={"name": "A"}, connection=aconn,
                                             run_at=later),
                await aio.send_simple_mail("S", "T", [{"label": "L", "url": "https://x.test"}],
                                           to_address="a@example.com", connection=aconn, run_at=later),
                await aio.send_user_push_message("a1", "push", connection=aconn, run_at=later),
                await aio.send_system_message_template("a1", "welcome", {"name": "A"}, connection=aconn,
                                                       run_at=later),
                await aio.TwilioClient().send_sms("+353861234567", "en", "sms", connection=aconn, run_at=later),
                await aio.TwilioClient().make_call("+353861234567", "en", "call", connection=aconn, run_at=later),
                await aio.make_phone_call("a1", connection=aconn, run_at=later),
                await aio.send_phone_sms_predefined("a1", "n", connection=aconn, run_at=later),
                await aio.send_phone_sms("a1", "c", connection=aconn, run_at=later),
                await aio.send_sms_to_number("+40721234567", "ro", "c", connection=aconn, run_at=later),
            ]
            chat = await aio.send_system_message("a1", "hello", connection=aconn)
            await aconn.commit()
            assert chat > 0
            assert await aio.cancel(kept[0], connection=aconn) == kept[0]
            assert await aio.retry(kept[0], connection=aconn) == kept[0]
            st = await aio.status(kept[1], connection=aconn)
            assert st is not None and st.status == "queued" and st.kind == "email"
            await aconn.commit()
            gone = [await aio.send_simple_mail("Gone", "x", to_address="g@example.com", connection=aconn)]
            await aconn.rollback()
            return kept, gone

    kept, gone = asyncio.run(main())
    kinds = [message_row(conn, i)["kind"] for i in kept]
    assert kinds == ["email", "email", "push", "chat", "sms", "voice", "voice", "sms", "sms", "sms"]
    assert message_row(conn, kept[6])["template"] == "predefined"
    assert conn.execute("SELECT count(*) FROM outpost.messages WHERE id = ANY(%s)", (gone,)).fetchone() == (0,)


@pytest.mark.django_db(transaction=True)
def test_inside_django_the_async_variant_joins_the_callers_transaction(daemon: Any,
                                                                      conn: psycopg.Connection[Any]) -> None:
    async def enqueue(subject: str) -> int:
        return await aio.send_simple_mail(subject, "async body", to_address="ann@example.com")

    with pytest.raises(RuntimeError), transaction.atomic():
        gone = async_to_sync(enqueue)("async-rolled-back")
        with django_connection.cursor() as cur:  # same connection, same transaction
            cur.execute("SELECT subject FROM outpost.messages WHERE id = %s", [gone])
            assert cur.fetchone() == ("async-rolled-back",)
        raise RuntimeError("rollback")
    with transaction.atomic():
        kept = async_to_sync(enqueue)("async-committed")
    assert conn.execute("SELECT count(*) FROM outpost.messages WHERE id = %s", (gone,)).fetchone() == (0,)
    wait_status(conn, kept, "sent")
