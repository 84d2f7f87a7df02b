"""Evidence of how many people sent a query that a client cannot invent by changing a field.

Popularity that reaches every shopper (popular completions in ``/suggest``, analytics' top
queries) and the k-anonymity floor that keeps a rare query private count *witnesses*, never the
``user_id`` or ``session_id`` a public ``GET /search`` carries (five made-up ids are five
"users"). Two kinds of witness count:

- **client networks**: the network a search came from, the peer address of the connection (or,
  behind a proxy listed in ``SHELF_TRUSTED_PROXIES``, the address that proxy forwarded)
  truncated to its /24 (IPv4) or /48 (IPv6). Stored with the search (``client_network``); the
  full address never is. One client, however many ids it invents, is one network.
- **clicking shoppers**: the shoppers of events (clicks, add-to-carts, purchases) joined to an
  answered search. ``POST /events`` needs the API key, so the storefront's back end vouches for
  each event and for the user (else session, else the search itself) it names.

A query's witnesses are the larger of the two counts: each is a lower bound of the distinct
people who sent it (adding them could count one person twice), so the floor stays a
k-anonymity floor. A search stored before networks were recorded has none: only its events
count. When scoped keys (one public search key per storefront) exist, a search made with one
carries the key's identity too and the witness becomes the (key, network) pair: one network
searching through two storefronts is two witnesses, and a revoked key's searches stop
counting. ``witness_count`` is the one place that changes.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import sqlalchemy as sa

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def client_network(host: str | None) -> str | None:
    """The network of a client address, as stored: ``10.0.3.7`` -> ``10.0.3.0/24``,
    ``2001:db8:1:2::5`` -> ``2001:db8:1::/48`` (an IPv4 address mapped into IPv6, ``::ffff:
    10.0.3.7``, as the IPv4 one). None for anything that is not an IP address (a Unix socket,
    a test client's ``testclient``, a garbled forwarded value): it is no witness."""
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def clicking_shopper(events: sa.Table) -> sa.ColumnElement[Any]:
    """Per event row, who the storefront says acted: ``user:ID``, else ``session:ID``, else
    ``search:REQUEST_ID`` (one search, one witness); NULL where the outer join found no event."""
    user = sa.literal("user:") + events.c.user_id
    session = sa.literal("session:") + events.c.session_id
    search = sa.literal("search:") + events.c.request_id
    return sa.func.coalesce(user, session, search)


def witness_count(
    networks: sa.ColumnElement[Any], shoppers: sa.ColumnElement[Any]
) -> sa.ColumnElement[Any]:
    """The witnesses of a group of rows: the larger of its distinct ``networks`` (client
    networks of its searches) and distinct ``shoppers`` (``clicking_shopper`` of their events).
    An aggregate expression, the same SQL on SQLite and PostgreSQL."""
    by_network = sa.func.count(sa.distinct(networks))
    by_event = sa.func.count(sa.distinct(shoppers))
    return sa.case((by_network >= by_event, by_network), else_=by_event)
