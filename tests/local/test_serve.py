"""The local tenant over a real loopback socket."""

from __future__ import annotations

import re
import subprocess
import sys
import time

import httpx
import pytest
from graph_kit import AUTH, new_user

from provisioner.local.realism import Realism
from provisioner.local.serve import RemoteBindRefused, base_url, check_host, is_loopback, running_server, serve


def test_requests_and_batches_over_a_loopback_port(tmp_path):
    with running_server(tmp_path / "t.db") as url:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1\.0", url)
        with httpx.Client(base_url=url, headers={"Authorization": "Bearer anything"}) as c:
            created = c.post(url + "/users", json=new_user("alice"))
            assert created.status_code == 201
            assert "request-id" in created.headers
            assert "server" not in created.headers
            uid = created.json()["id"]

            got = c.get(f"{url}/users/{uid}")
            assert got.status_code == 200
            assert got.json()["userPrincipalName"] == "alice@contoso.onmicrosoft.com"

            batch = c.post(url + "/$batch", json={"requests": [
                {"id": "1", "method": "GET", "url": f"/users/{uid}?$select=id"},
                {"id": "2", "method": "GET", "url": "/users/nobody@contoso.onmicrosoft.com"},
            ]})
            assert batch.status_code == 200
            items = {i["id"]: i for i in batch.json()["responses"]}
            assert items["1"]["status"] == 200
            assert items["1"]["body"]["id"] == uid
            assert items["2"]["status"] == 404
            assert items["2"]["body"]["error"]["code"] == "Request_ResourceNotFound"


def test_throttling_headers_over_http(tmp_path):
    with running_server(tmp_path / "t.db", Realism(throttle=True, tenant_size="S")) as url:
        resp = httpx.get(url + "/users?$select=id", headers=AUTH)
        assert resp.status_code == 200
        assert resp.headers["x-ms-resource-unit"] == "1"


def test_dropped_connections_only_in_serve_mode(tmp_path):
    with running_server(tmp_path / "t.db", Realism(drop_rate=1.0, fault_applied_share=1.0, seed=1)) as url:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(url + "/users", json=new_user("bob"), headers=AUTH)
    # The drop came after the write: the user exists although the client never heard back.
    with running_server(tmp_path / "t.db") as url:
        resp = httpx.get(url + "/users/bob@contoso.onmicrosoft.com", headers=AUTH)
        assert resp.status_code == 200


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.5", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_hosts(host):
    assert is_loopback(host)
    check_host(host, allow_remote=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_non_loopback_host_is_refused_without_allow_remote(host, tmp_path):
    assert not is_loopback(host)
    with pytest.raises(RemoteBindRefused) as e:
        serve(tmp_path / "t.db", host=host, port=0)
    assert str(e.value).startswith(f"refusing to listen on {host}: the local tenant accepts any bearer token")
    assert not (tmp_path / "t.db").exists()
    check_host(host, allow_remote=True)


def test_base_url_brackets_ipv6():
    assert base_url("127.0.0.1", 8000) == "http://127.0.0.1:8000/v1.0"
    assert base_url("::1", 80) == "http://[::1]:80/v1.0"
    assert base_url("[::1]", 80) == "http://[::1]:80/v1.0"


def test_serve_prints_its_url_and_stops_cleanly_on_ctrl_c(tmp_path):
    state = tmp_path / "t.db"
    code = f"from provisioner.local.serve import serve; serve({str(state)!r}, port=0)"
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        m = re.fullmatch(r"Serving local tenant at (http://127\.0\.0\.1:\d+/v1\.0) \(state: (.+)\)\n", line)
        assert m, line
        assert m.group(2) == str(state)
        assert proc.stderr.readline() == "Press Ctrl-C to stop.\n"
        url = m.group(1)
        for _ in range(100):
            try:
                assert httpx.get(url + "/users?$top=1", headers=AUTH).status_code == 200
                break
            except httpx.ConnectError:
                time.sleep(0.05)
        proc.send_signal(2)  # SIGINT, as Ctrl-C sends
        _, rest = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert rest == "Local tenant stopped.\n"
