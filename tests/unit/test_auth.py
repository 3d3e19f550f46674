"""Credentials per auth method, cloud tables, the token cache and JWT claims — all offline."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.identity import AzureAuthorityHosts

from provisioner import auth
from provisioner.config import Profile
from provisioner.errors import ConfigError, ProvisionerError

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def profile(method: str, cloud: str = "global", **fields: Any) -> Profile:
    return Profile(name="prod", kind="graph", cloud=cloud, tenant_id=TENANT, client_id=CLIENT, auth=method, **fields)


def authority_of(credential: Any) -> str:
    # azure-identity keeps the resolved authority on its MSAL-style client (private, but stable enough
    # to pin the behaviour that matters: tokens are requested from the matching cloud).
    holder = getattr(credential, "_client", credential)
    return str(getattr(holder, "_authority", None) or credential._authority)


def jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


# -- clouds -----------------------------------------------------------------------------------------


def test_cloud_table_matches_azure_identity_authority_hosts() -> None:
    assert auth.CLOUDS["global"] == ("https://graph.microsoft.com", AzureAuthorityHosts.AZURE_PUBLIC_CLOUD)
    assert auth.CLOUDS["usgov"] == ("https://graph.microsoft.us", AzureAuthorityHosts.AZURE_GOVERNMENT)
    assert auth.CLOUDS["usgov-dod"] == ("https://dod-graph.microsoft.us", AzureAuthorityHosts.AZURE_GOVERNMENT)
    assert auth.CLOUDS["china"] == (
        "https://microsoftgraph.chinacloudapi.cn",
        AzureAuthorityHosts.AZURE_CHINA,
    )


@pytest.mark.parametrize(
    ("cloud", "base", "host"),
    [
        ("global", "https://graph.microsoft.com/v1.0", "graph.microsoft.com"),
        ("usgov", "https://graph.microsoft.us/v1.0", "graph.microsoft.us"),
        ("usgov-dod", "https://dod-graph.microsoft.us/v1.0", "dod-graph.microsoft.us"),
        ("china", "https://microsoftgraph.chinacloudapi.cn/v1.0", "microsoftgraph.chinacloudapi.cn"),
    ],
)
def test_base_url_scope_and_allowed_hosts_per_cloud(cloud: str, base: str, host: str) -> None:
    p = profile("azure-cli", cloud)
    assert auth.graph_base_url(p) == base
    assert auth.graph_scope(p) == f"https://{host}/.default"
    assert auth.allowed_hosts(p) == [host]


def test_graph_url_override_pins_the_loopback_host() -> None:
    p = Profile(name="serve", kind="graph", auth="token", token_env="T", graph_url="http://127.0.0.1:8123/v1.0/")
    assert auth.graph_base_url(p) == "http://127.0.0.1:8123/v1.0"
    assert auth.allowed_hosts(p) == ["127.0.0.1"]


def test_local_profile_needs_no_credential() -> None:
    with pytest.raises(ConfigError, match="local tenant and needs no credential"):
        auth.build_credential(Profile(name="local"))


# -- credential per method --------------------------------------------------------------------------


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provisioner-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "app.pem"
    encryption = serialization.BestAvailableEncryption(b"pem-pass-123")
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    return path


def test_certificate_credential_with_password_from_env(certificate: Path, monkeypatch) -> None:
    from azure.identity.aio import CertificateCredential

    monkeypatch.setenv("CERT_PASS", "pem-pass-123")
    p = profile("certificate", "usgov", certificate_path=certificate, certificate_password_env="CERT_PASS")
    cred = auth.build_credential(p)
    assert isinstance(cred, CertificateCredential)
    assert authority_of(cred) == "https://login.microsoftonline.us"


def test_certificate_with_wrong_password_is_a_config_error_without_the_password(certificate: Path, monkeypatch) -> None:
    monkeypatch.setenv("CERT_PASS", "wrong-pass-987")
    p = profile("certificate", certificate_path=certificate, certificate_password_env="CERT_PASS")
    with pytest.raises(ConfigError) as e:
        auth.build_credential(p)
    assert "tenants.prod.certificate_path: cannot load the certificate" in str(e.value)
    assert "wrong-pass-987" not in str(e.value)


def test_missing_certificate_file(tmp_path: Path) -> None:
    p = profile("certificate", certificate_path=tmp_path / "none.pem")
    with pytest.raises(ConfigError) as e:
        auth.build_credential(p)
    assert str(e.value) == (
        f"config: tenants.prod.certificate_path: certificate file {tmp_path / 'none.pem'} not found; "
        "point it at the PEM or PFX file holding the certificate and its private key"
    )


def test_secret_credential_reads_the_named_env_var(monkeypatch) -> None:
    from azure.identity.aio import ClientSecretCredential

    monkeypatch.setenv("APP_SECRET", "s3cr3t-value")
    cred = auth.build_credential(profile("secret", "china", client_secret_env="APP_SECRET"))
    assert isinstance(cred, ClientSecretCredential)
    assert cred._secret == "s3cr3t-value"
    assert authority_of(cred) == "https://login.chinacloudapi.cn"


@pytest.mark.parametrize("value", [None, ""])
def test_missing_secret_env_var_is_a_config_error_naming_the_variable(monkeypatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("APP_SECRET", raising=False)
    else:
        monkeypatch.setenv("APP_SECRET", value)
    with pytest.raises(ConfigError) as e:
        auth.build_credential(profile("secret", client_secret_env="APP_SECRET"))
    assert str(e.value) == (
        "config: tenants.prod.client_secret_env: environment variable APP_SECRET is not set or empty; "
        "export APP_SECRET before running the command"
    )


def test_workload_identity_uses_token_file_or_the_standard_env_var(tmp_path: Path, monkeypatch) -> None:
    from azure.identity.aio import WorkloadIdentityCredential

    token_file = tmp_path / "token"
    cred = auth.build_credential(profile("workload-identity", "usgov-dod", token_file=token_file))
    assert isinstance(cred, WorkloadIdentityCredential)
    assert cred._token_file_path == str(token_file)
    assert authority_of(cred) == "https://login.microsoftonline.us"

    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token")
    cred = auth.build_credential(profile("workload-identity"))
    assert cred._token_file_path == "/var/run/secrets/azure/tokens/azure-identity-token"

    monkeypatch.delenv("AZURE_FEDERATED_TOKEN_FILE")
    with pytest.raises(ConfigError, match="tenants.prod.token_file: no federated token file"):
        auth.build_credential(profile("workload-identity"))


def test_managed_identity_user_assigned_and_system_assigned() -> None:
    from azure.identity.aio import ManagedIdentityCredential

    assert isinstance(auth.build_credential(profile("managed-identity")), ManagedIdentityCredential)
    cred = auth.build_credential(profile("managed-identity", managed_identity_client_id=CLIENT))
    assert isinstance(cred, ManagedIdentityCredential)


def test_device_code_is_sync_prompts_on_stderr_and_uses_the_cloud_authority(capsys) -> None:
    from azure.identity import DeviceCodeCredential

    cred = auth.build_credential(profile("device-code", "usgov"))
    assert isinstance(cred, DeviceCodeCredential)
    assert authority_of(cred) == "https://login.microsoftonline.us"
    cred._prompt_callback("https://microsoft.com/devicelogin", "ABCD-1234", datetime.now(UTC))
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err == "To sign in, open https://microsoft.com/devicelogin and enter the code ABCD-1234\n"


def test_browser_with_redirect_uri() -> None:
    from azure.identity import InteractiveBrowserCredential

    cred = auth.build_credential(profile("browser", "china", redirect_uri="http://localhost:8400"))
    assert isinstance(cred, InteractiveBrowserCredential)
    assert authority_of(cred) == "https://login.chinacloudapi.cn"


def test_static_token_profile(monkeypatch) -> None:
    p = Profile(name="serve", kind="graph", auth="token", token_env="GRAPH_TOKEN", graph_url="http://127.0.0.1:1/v1.0")
    monkeypatch.setenv("GRAPH_TOKEN", jwt({"exp": 2_000_000_000}))
    assert auth.static_token(p) == os.environ["GRAPH_TOKEN"]
    # The composition root sends a static token itself, pinned to the profile's Graph host.
    with pytest.raises(ConfigError, match="sends a static token and needs no credential"):
        auth.build_credential(p)
    monkeypatch.delenv("GRAPH_TOKEN")
    with pytest.raises(ConfigError, match="environment variable GRAPH_TOKEN is not set"):
        auth.static_token(p)


# -- GitHub Actions OIDC ----------------------------------------------------------------------------


class _OidcHandler(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        body = json.dumps({"value": "github.oidc.jwt"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def oidc_server():
    _OidcHandler.seen = []
    server = HTTPServer(("127.0.0.1", 0), _OidcHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_github_oidc_fetches_the_token_with_the_entra_audience(oidc_server: str, monkeypatch) -> None:
    from azure.identity.aio import ClientAssertionCredential

    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", f"{oidc_server}/token?api-version=2.0")
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token")
    cred = auth.build_credential(profile("github-oidc", "usgov"))
    assert isinstance(cred, ClientAssertionCredential)
    assert cred._func is auth.github_oidc_token
    assert authority_of(cred) == "https://login.microsoftonline.us"
    assert auth.github_oidc_token() == "github.oidc.jwt"
    assert _OidcHandler.seen == [
        ("/token?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange", "bearer runner-request-token")
    ]


def test_github_oidc_outside_actions(monkeypatch) -> None:
    monkeypatch.delenv("ACTIONS_ID_TOKEN_REQUEST_URL", raising=False)
    with pytest.raises(ConfigError, match="permissions: id-token: write"):
        auth.build_credential(profile("github-oidc"))


def test_github_oidc_runner_failure_does_not_leak_the_request_token(monkeypatch) -> None:
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_URL", "http://127.0.0.1:9/token")  # discard port: refused
    monkeypatch.setenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token")
    with pytest.raises(ProvisionerError) as e:
        auth.github_oidc_token()
    assert "could not get an ID token" in str(e.value)
    assert "runner-request-token" not in str(e.value)


# -- caching ----------------------------------------------------------------------------------------


class FakeCredential:
    """Stands in for an azure-identity credential that does not cache (like AzureCliCredential)."""

    def __init__(self, lifetime: float = 3600):
        self.calls: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.lifetime = lifetime
        self.closed = False

    async def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.calls.append((scopes, kwargs))
        return AccessToken(f"token-{len(self.calls)}", int(time.time() + self.lifetime))

    async def close(self) -> None:
        self.closed = True


def test_caching_credential_calls_the_inner_one_once_for_many_requests() -> None:
    inner = FakeCredential()

    async def run() -> list[str]:
        async with auth.CachingAsyncCredential(inner) as cred:
            tokens = await asyncio.gather(*(cred.get_token("https://graph.microsoft.com/.default") for _ in range(10)))
            tokens.append(await cred.get_token("https://graph.microsoft.com/.default", claims=None, enable_cae=True))
        return [t.token for t in tokens]

    assert asyncio.run(run()) == ["token-1"] * 11
    assert len(inner.calls) == 1
    assert inner.closed


def test_caching_credential_bypasses_the_cache_on_claims_and_refreshes_before_expiry() -> None:
    inner = FakeCredential(lifetime=120)  # inside the 300 s skew: never reused

    async def run() -> list[str]:
        cred = auth.CachingAsyncCredential(inner)
        first = await cred.get_token("s")
        second = await cred.get_token("s")
        challenged = await cred.get_token("s", claims='{"access_token":{}}')
        return [first.token, second.token, challenged.token]

    assert asyncio.run(run()) == ["token-1", "token-2", "token-3"]
    assert inner.calls[2][1] == {"claims": '{"access_token":{}}'}


def test_azure_cli_runs_az_once_for_many_token_requests(tmp_path: Path, monkeypatch) -> None:
    from azure.identity.aio import AzureCliCredential

    count = tmp_path / "count"
    az = tmp_path / "az"
    payload = json.dumps(
        {"accessToken": "cli-token", "expires_on": int(time.time()) + 3600, "tokenType": "Bearer", "tenant": TENANT}
    )
    az.write_text(f"#!/bin/sh\necho run >> '{count}'\necho '{payload}'\n")
    az.chmod(az.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")

    cred = auth.build_credential(profile("azure-cli"))
    assert isinstance(cred, auth.CachingAsyncCredential)
    assert isinstance(cred._inner, AzureCliCredential)

    async def run() -> set[str]:
        tokens = [await cred.get_token("https://graph.microsoft.com/.default") for _ in range(5)]
        await auth.close_credential(cred)
        return {t.token for t in tokens}

    assert asyncio.run(run()) == {"cli-token"}
    assert count.read_text().splitlines() == ["run"]


# -- token claims and import cost -------------------------------------------------------------------


def test_token_claims_decodes_base64url_without_padding() -> None:
    claims = {"roles": ["User.ReadWrite.All"], "tid": TENANT, "name": "ü?>>~~"}  # forces '-' / '_' chars
    token = jwt(claims)
    assert "-" in token or "_" in token
    assert auth.token_claims(token) == claims


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("opaque", "not a JWT"),
        ("a.%%%.c", "not base64url-encoded JSON"),
        (f"a.{base64.urlsafe_b64encode(b'[1]').decode()}.c", "not a JSON object"),
    ],
)
def test_token_claims_rejects_non_jwts(token: str, message: str) -> None:
    with pytest.raises(ProvisionerError, match=message):
        auth.token_claims(token)


def test_importing_config_auth_and_permissions_stays_cheap() -> None:
    code = (
        "import sys, provisioner.config, provisioner.auth, provisioner.permissions\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('azure', 'msgraph', 'kiota_abstractions', 'httpx')]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
