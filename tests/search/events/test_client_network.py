"""The client network stored with a search: a /24 or /48, never the address; nothing for what
is not an IP address."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.events.evidence import client_network

# (the peer as the scope gives it, the network stored)
NETWORKS = [
    ("10.0.3.7", "10.0.3.0/24"),
    ("10.0.3.255", "10.0.3.0/24"),
    ("203.0.113.1", "203.0.113.0/24"),
    ("127.0.0.1", "127.0.0.0/24"),
    ("2001:db8:1:2::5", "2001:db8:1::/48"),
    ("2001:db8:1:ffff:ffff:ffff:ffff:ffff", "2001:db8:1::/48"),
    ("[2001:db8:1:2::5]", "2001:db8:1::/48"),  # bracketed, as some proxies forward it
    ("::1", "::/48"),
    ("::ffff:10.0.3.7", "10.0.3.0/24"),  # IPv4 mapped into IPv6: the IPv4 network
    (" 10.0.3.7 ", "10.0.3.0/24"),
    ("testclient", None),  # Starlette's TestClient
    ("unknown", None),  # what some proxies forward when they do not know
    ("10.0.3", None),
    ("10.0.3.7:8080", None),  # a port is not an address
    ("", None),
    (None, None),  # a Unix socket: no peer
]


@pytest.mark.parametrize(("host", "network"), NETWORKS)
def test_the_stored_network_of_each_kind_of_peer(host: str | None, network: str | None) -> None:
    assert client_network(host) == network


@given(st.ip_addresses())
def test_a_network_holds_its_address_and_never_is_the_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    network = client_network(str(address))
    assert network is not None
    parsed = ipaddress.ip_network(network)
    mapped = getattr(address, "ipv4_mapped", None) or address
    assert mapped in parsed
    assert parsed.prefixlen == (24 if mapped.version == 4 else 48)
    assert client_network(str(parsed.network_address)) == network  # every host of it: one
