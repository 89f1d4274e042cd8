"""notify / listen across engines: a Python listener hears honker's ``tx.notify``,
and honker's update events and reader see a Python ``tx.notify``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from helpers import within
from interop_support import NodeSide, PySide, raw_exec, raw_one


async def test_python_listener_receives_honker_notifications(
    node: Any, open_db: Any, shared_db: str
) -> None:
    n = NodeSide(node, shared_db)
    db = open_db(shared_db)
    n.notify("orders", {"before": "listen"})  # history is not replayed
    listener = db.listen("orders", fallback_poll_s=None)  # only a wake can deliver

    nxt = asyncio.ensure_future(listener.__anext__())
    await asyncio.sleep(0.05)
    assert not nxt.done()
    node.tx(shared_db, [{"notify": ["orders", {"rolled": "back"}]}], rollback=True)
    n.notify("other-channel", 1)
    first_id = n.notify("orders", {"id": 42, "who": "honker ü"})
    # Several in one honker transaction arrive in order.
    ids = node.tx(
        shared_db,
        [
            {"notify": ["orders", "a string"]},
            {"notify": ["orders", None]},
            {"notify": ["orders", [1, 2.5]]},
        ],
    )

    got = [await within(nxt, 5)]
    got += [await within(listener.__anext__(), 5) for _ in range(3)]
    assert [m.id for m in got] == [first_id, *ids]
    assert [m.channel for m in got] == ["orders"] * 4
    assert [m.payload for m in got] == [{"id": 42, "who": "honker ü"}, "a string", None, [1, 2.5]]
    assert all(isinstance(m.created_at, int) and m.created_at > 0 for m in got)
    listener.close()


def test_honker_sees_python_notifications(node: Any, open_db: Any, shared_db: str) -> None:
    NodeSide(node, shared_db)
    py = PySide(open_db(shared_db))
    sub = node.request("subscribe", db=shared_db)
    assert node.request("wait", sub=sub, timeoutMs=50) is False

    with py.db.transaction() as tx:
        tx.notify("jobs", {"rolled": "back"})
        tx.query("SELECT 1")
    try:
        with py.db.transaction() as tx:
            tx.notify("jobs", "discarded")
            raise KeyError("roll back")
    except KeyError:
        pass
    first = py.notify("jobs", {"n": 1, "text": "ü\n"})
    assert node.request("wait", sub=sub, timeoutMs=5000) is True
    rows = node.read(
        shared_db,
        "SELECT id, channel, payload, created_at FROM _honker_notifications "
        "WHERE id >= ? ORDER BY id",
        [first],
    )
    assert [(r["id"], r["channel"], json.loads(r["payload"])) for r in rows] == [
        (first, "jobs", {"n": 1, "text": "ü\n"})
    ]
    # The row committed first (before the rolled-back one) is there too.
    assert node.read(shared_db, "SELECT count(*) AS n FROM _honker_notifications")[0]["n"] == 2
    node.request("unsubscribe", sub=sub)


def test_prune_across_engines(node: Any, open_db: Any, shared_db: str) -> None:
    n = NodeSide(node, shared_db)
    py = PySide(open_db(shared_db))
    for i in range(4):
        n.notify("c", i)
        py.notify("c", i)
    assert node.request("prune", db=shared_db, args=[None, 5]) == 3  # keeps the newest 5
    assert py.db.prune_notifications(max_keep=2) == 3
    assert raw_one(shared_db, "SELECT group_concat(payload) FROM _honker_notifications") == "3,3"
    raw_exec(
        shared_db,
        "UPDATE _honker_notifications SET created_at = unixepoch() - 7200 "
        "WHERE id = (SELECT min(id) FROM _honker_notifications)",
    )
    assert py.db.prune_notifications(older_than_s=3600) == 1
    assert node.request("prune", db=shared_db, args=[3600]) == 0
    assert node.request("prune", db=shared_db, args=[None, 0]) == 1
