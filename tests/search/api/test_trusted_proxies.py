"""Which client a search is counted for: the peer, or, from a proxy in SHELF_TRUSTED_PROXIES
only, the address it forwarded (``X-Forwarded-For``, the rightmost one not itself a trusted
proxy). The app's own middleware, so tests and every ASGI server see the same client."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import ValidationError

from search.api.middleware.proxies import install_proxy_headers
from search.events.evidence import client_network
from search.settings import Settings


def app_behind(proxies: list[str]) -> FastAPI:
    """An app that answers the network a search from this client would be stored with."""
    app = FastAPI()

    @app.get("/network")
    def network(request: Request) -> dict[str, str | None]:
        return {"network": client_network(request.client.host if request.client else None)}

    install_proxy_headers(app, Settings(trusted_proxies=proxies))
    return app


# (trusted proxies, the peer, X-Forwarded-For, the network counted)
CASES = [
    ([], "10.0.0.5", "198.51.100.7", "10.0.0.0/24"),  # no proxy trusted: the header is ignored
    (["10.0.0.5"], "10.0.0.5", "198.51.100.7", "198.51.100.0/24"),
    (["10.0.0.5"], "10.0.9.9", "198.51.100.7", "10.0.9.0/24"),  # not the proxy: ignored
    (["10.0.0.5"], "10.0.0.5", "1.2.3.4, 198.51.100.7", "198.51.100.0/24"),  # forged head
    (["10.0.0.0/16"], "10.0.0.5", "203.0.113.9, 10.0.1.1", "203.0.113.0/24"),  # two proxies
    (["10.0.0.5"], "10.0.0.5", None, "10.0.0.0/24"),  # the proxy itself searched
    (["10.0.0.5"], "10.0.0.5", "unknown", None),  # forwarded, but not an address: no witness
    (["::1"], "::1", "2001:db8:5::1", "2001:db8:5::/48"),
    ([], "127.0.0.1", "198.51.100.7", "127.0.0.0/24"),  # loopback is not trusted by default
]


@pytest.mark.parametrize(("proxies", "peer", "forwarded", "network"), CASES)
def test_the_client_counted_behind_each_proxy_setup(
    proxies: list[str], peer: str, forwarded: str | None, network: str | None
) -> None:
    client = TestClient(app_behind(proxies), client=(peer, 40000))
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    assert client.get("/network", headers=headers).json() == {"network": network}


@pytest.mark.parametrize("bad", ["*", "proxy.internal", "10.0.0.0/33", "10.0.0.300", ""])
def test_a_trusted_proxy_that_is_not_an_address_is_refused_by_name(bad: str) -> None:
    with pytest.raises(ValidationError, match="SHELF_TRUSTED_PROXIES"):
        Settings(trusted_proxies=[bad])


def test_trusted_proxies_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELF_TRUSTED_PROXIES", '["10.1.0.5", "10.2.0.0/16"]')
    assert Settings().trusted_proxies == ["10.1.0.5/32", "10.2.0.0/16"]
