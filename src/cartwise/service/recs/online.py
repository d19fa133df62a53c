"""Online updates: events since the model was trained, read as they are stored.

A background thread reads events newer than the last one it saw (by DuckDB row id). Each event
joins its session at once and is kept, per user, as a fresh item with its weight; purchases
also feed the already-bought rule. When identity stitching links an id (an anonymous visitor
who signs in), that id's fresh events and purchases move to the customer. At serve time fresh
items add `sum_e w_e * S[item_e, :]`, with `S` the model's item similarity (`state.sim`): for
item-based models the user's vector is their interaction row, so this is the update a retrain
would make, without one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from datetime import timedelta
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from cartwise.pipelines.train import EVENT_WEIGHTS
from cartwise.service.recs.state import now

if TYPE_CHECKING:
    from cartwise.service.collector import StoreGate
    from cartwise.store import Store

# (row id, item id, weight, event type) of one fresh event.
FreshEvent = tuple[int, str, float, str]

_MAX_FRESH_PER_USER = 200
_MAX_SESSION_ITEMS = 20
_MAX_SESSIONS = 100_000


def _new_links(store: Store, seen_rowid: int) -> list[tuple[str, str]]:
    """(linked id, customer) for the ids that events stored after `seen_rowid` carry as
    `anonymous_id` beside another `user_id` and that identity stitching linked (a refused
    merge leaves no link, and moves nothing)."""
    if not store.has_table("identities"):
        return []
    rows = store.con.execute(
        """SELECT DISTINCT i.alias_id, i.customer_id FROM identities i
           JOIN (SELECT DISTINCT anonymous_id FROM events
                 WHERE rowid > ? AND anonymous_id IS NOT NULL AND anonymous_id <> user_id) e
             ON e.anonymous_id = i.alias_id""",
        [seen_rowid],
    ).fetchall()
    return [(str(alias), str(customer)) for alias, customer in rows]


class LiveActivity:
    """Fresh events per user, live purchases and live sessions; guarded by the server's lock.

    Methods whose names start with `locked_` expect the caller to hold `lock`; the others
    take it themselves.
    """

    def __init__(self, lock: threading.Lock) -> None:
        self.lock = lock
        self.fresh: dict[str, list[FreshEvent]] = {}  # user -> events since the model's watermark
        self.live_bought: dict[str, set[str]] = {}
        self.sessions: OrderedDict[str, deque[str]] = OrderedDict()
        self.seen_rowid = 0
        # Erased customers and the erasure count when each was forgotten: a poll that read the
        # events before an erasure must not bring the customer's rows back when it applies them.
        self.erasures = 0
        self.erased: dict[str, int] = {}

    def start(self, gate: StoreGate) -> int:
        """Start reading after the last stored event; returns its row id (-1: none yet)."""
        with gate.read(limited=False) as store:
            self.seen_rowid = int(
                store.con.execute("SELECT coalesce(max(rowid), -1) FROM events").fetchall()[0][0]
            )
        return self.seen_rowid

    def seed_sessions(self, gate: StoreGate) -> None:
        """Sessions active in the last hour, so a restart keeps them."""
        since = now() - timedelta(hours=1)
        with gate.read(limited=False) as store:
            rows = store.con.execute(
                "SELECT session_id, item_id FROM events WHERE ts >= ? AND session_id IS NOT NULL "
                "AND item_id IS NOT NULL ORDER BY ts, rowid",
                [since],
            ).fetchall()
        with self.lock:
            for session, item in rows:
                self.locked_session_add(str(session), str(item))

    def poll(self, gate: StoreGate) -> int:
        """Apply events stored since the last poll to sessions and users; returns how many.

        The read runs on its own snapshot, never under the writer's lock, and in the caller's
        thread (the background poller), never on the event loop.

        The rows come as Arrow with ids dictionary-encoded: turning thousands of rows into
        Python tuples held the GIL for 40-60 ms under collector load and stalled every other
        thread.
        """
        # An int read is atomic under the GIL: no lock needed to note where the erasures stand.
        erasures_before = self.erasures
        with gate.read(limited=False) as store:
            table = store.con.sql(
                "SELECT rowid, ts, user_id, session_id, type, item_id FROM events WHERE rowid > $seen "
                "AND item_id IS NOT NULL ORDER BY rowid LIMIT 200000",
                params={"seen": self.seen_rowid},
            ).to_arrow_table()
            links = _new_links(store, self.seen_rowid)
        if table.num_rows == 0:
            if links or self.erased:
                with self.lock:
                    self._locked_apply_links(links, erasures_before)
            return 0
        times = table.column("ts").to_numpy()
        if (times[1:] < times[:-1]).any():  # a file load stores its rows in any order
            table = table.take(pc.sort_indices(table, [("ts", "ascending"), ("rowid", "ascending")]))
        rowids = table.column("rowid").to_numpy().tolist()
        codes, values = {}, {}
        for name in ("user_id", "session_id", "type", "item_id"):
            encoded = table.column(name).cast(pa.string()).combine_chunks().dictionary_encode()
            codes[name] = encoded.indices.fill_null(-1).to_numpy().tolist()
            values[name] = [str(v) for v in encoded.dictionary.to_pylist()]
        users, sessions, kinds, items = (values[n] for n in ("user_id", "session_id", "type", "item_id"))
        weights = [EVENT_WEIGHTS.get(kind) for kind in kinds]
        # Grouped per user and per session before taking the lock, which the async request
        # routes take: the loop over up to 200k rows runs here, in the poller's thread, and the
        # lock is held only to merge one short list per user and session.
        fresh_new: dict[str, list[FreshEvent]] = {}
        bought_new: dict[str, set[str]] = {}
        session_new: dict[str, list[str]] = {}  # the order of last activity, as `sessions` keeps
        for row in range(len(rowids)):
            user, item, kind = codes["user_id"][row], codes["item_id"][row], codes["type"][row]
            weight = weights[kind]
            if weight is not None:
                fresh_new.setdefault(users[user], []).append((rowids[row], items[item], weight, kinds[kind]))
                session = codes["session_id"][row]
                if session >= 0:
                    seq = session_new.pop(sessions[session], [])
                    session_new[sessions[session]] = seq
                    if not seq or seq[-1] != items[item]:
                        seq.append(items[item])
            if kinds[kind] == "purchase":
                bought_new.setdefault(users[user], set()).add(items[item])
        with self.lock:  # one poll is applied whole: a request sees all of it or none
            erased = self._locked_apply_links(links, erasures_before)
            for user_id in erased:
                fresh_new.pop(user_id, None)
                bought_new.pop(user_id, None)
            for user_id, events in fresh_new.items():
                fresh = self.fresh.setdefault(user_id, [])
                fresh.extend(events[-_MAX_FRESH_PER_USER:])
                del fresh[:-_MAX_FRESH_PER_USER]
            for session_id, seq in session_new.items():
                for item_id in seq[-_MAX_SESSION_ITEMS:]:  # the deque keeps no more anyway
                    self.locked_session_add(session_id, item_id)
            for user_id, bought in bought_new.items():
                self.live_bought.setdefault(user_id, set()).update(bought)
            self.seen_rowid = max(self.seen_rowid, max(rowids))
        return len(rowids)

    def snapshot(self, user_id: str, session_id: str | None) -> tuple[list[FreshEvent], set[str], list[str]]:
        """Copies of the user's fresh events and live purchases and the session's items (oldest first)."""
        with self.lock:
            fresh = list(self.fresh.get(user_id, ()))
            live_bought = set(self.live_bought.get(user_id, ()))
            session = list(self.sessions.get(session_id, ())) if session_id else []
        return fresh, live_bought, session

    def locked_follow_links(self, links: list[tuple[str, str]]) -> None:
        """Move the fresh events and live purchases of each linked id (alias, customer) to its
        customer, so an anonymous visitor's browsing shapes the customer's list at once, before
        a retrain reads the rewritten events. Idempotent: a moved id has nothing left."""
        for alias, customer in links:
            moved = self.fresh.pop(alias, None)
            if moved:
                fresh = self.fresh.setdefault(customer, [])
                fresh.extend(moved)
                fresh.sort(key=lambda event: event[0])  # by row id: the order they were stored
                del fresh[:-_MAX_FRESH_PER_USER]
            bought = self.live_bought.pop(alias, None)
            if bought:
                self.live_bought.setdefault(customer, set()).update(bought)

    def _locked_apply_links(self, links: list[tuple[str, str]], erasures_before: int) -> set[str]:
        """Follow a poll's links, leaving out customers erased after its read began (those
        erased before were already gone from its snapshot); returns those customers."""
        erased = {user for user, at in self.erased.items() if at > erasures_before}
        self.erased = {user: at for user, at in self.erased.items() if at > erasures_before}
        links = [
            (alias, customer) for alias, customer in links if customer not in erased and alias not in erased
        ]
        if links:
            self.locked_follow_links(links)
        return erased

    def locked_forget_users(self, user_ids: set[str]) -> int:
        """Drop erased customers' fresh events and live purchases, also from a poll under way;
        returns how many fresh events were dropped."""
        self.erasures += 1
        for user in user_ids:
            self.erased[user] = self.erasures
            self.live_bought.pop(user, None)
        return sum(len(self.fresh.pop(user, [])) for user in user_ids)

    def locked_forget_until(self, watermark: int) -> None:
        """Drop fresh events a new model saw (row id <= `watermark`)."""
        for user in list(self.fresh):
            kept = [e for e in self.fresh[user] if e[0] > watermark]
            if kept:
                self.fresh[user] = kept
            else:
                del self.fresh[user]

    def locked_session_add(self, session: str, item: str) -> None:
        items = self.sessions.get(session)
        if items is None:
            items = self.sessions[session] = deque(maxlen=_MAX_SESSION_ITEMS)
            while len(self.sessions) > _MAX_SESSIONS:
                self.sessions.popitem(last=False)
        else:
            self.sessions.move_to_end(session)
        if not items or items[-1] != item:
            items.append(item)
