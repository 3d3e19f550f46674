"""Credentials per auth method and national cloud: where tokens come from and where they may go.

A profile's credential is only ever used for its cloud's Microsoft Graph host (``allowed_hosts``), and
its authority matches that cloud (sdk.md §1c). azure-identity is imported inside the functions that
need it, so importing this module stays cheap.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import time
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode, urlsplit

from provisioner.errors import ConfigError, ProvisionerError

if TYPE_CHECKING:
    from provisioner.config import Profile


class Cloud(NamedTuple):
    """A national cloud: its Microsoft Graph root URL and its Entra sign-in (authority) host."""

    graph_root: str
    authority_host: str


# Authority hosts are azure-identity's AzureAuthorityHosts values; China's login.chinacloudapi.cn is an
# alias of login.partner.microsoftonline.cn in Entra's instance discovery.
CLOUDS: dict[str, Cloud] = {
    "global": Cloud("https://graph.microsoft.com", "login.microsoftonline.com"),
    "usgov": Cloud("https://graph.microsoft.us", "login.microsoftonline.us"),
    "usgov-dod": Cloud("https://dod-graph.microsoft.us", "login.microsoftonline.us"),
    "china": Cloud("https://microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn"),
}
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
GITHUB_AUDIENCE = "api://AzureADTokenExchange"


def graph_base_url(profile: Profile) -> str:
    """The Graph v1.0 base URL for the profile, without a trailing slash (avoids ``v1.0//users``).

    For a local profile this is the global Graph root: the in-process transport never leaves the
    process and no credential is attached.
    """
    if profile.graph_url:
        return profile.graph_url.rstrip("/")
    return f"{CLOUDS[profile.cloud].graph_root}/v1.0"


def graph_scope(profile: Profile) -> str:
    """The ``.default`` scope of the profile's cloud, e.g. ``https://graph.microsoft.us/.default``."""
    return f"{CLOUDS[profile.cloud].graph_root}/.default"


def allowed_hosts(profile: Profile) -> list[str]:
    """Bare host names the bearer token may be sent to: only the profile's Graph host."""
    host = urlsplit(graph_base_url(profile)).hostname
    return [host] if host else []


def authority(profile: Profile) -> str:
    """The Entra authority host matching the profile's cloud."""
    return CLOUDS[profile.cloud].authority_host


def env_secret(profile: Profile, field: str) -> str | None:
    """The value of the environment variable named by ``profile.<field>``; never echoed in errors."""
    name = getattr(profile, field)
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise ConfigError(
            f"{profile.source or 'config'}: {profile.key(field)}: environment variable {name} is not set "
            f"or empty; export {name} before running the command"
        )
    return value


def static_token(profile: Profile) -> str:
    """The static bearer token of an ``auth = "token"`` profile, from the env var named by token_env."""
    if profile.auth != "token":
        raise ConfigError(
            f"{profile.source or 'config'}: {profile.key('auth')}: profile does not use a static token"
        )
    token = env_secret(profile, "token_env")
    assert token is not None  # env_secret raises when the variable is missing
    return token


class CachingAsyncCredential:
    """Caches another credential's tokens until shortly before expiry (sdk.md §7).

    Kiota asks for a token on every request; AzureCliCredential does not cache, so without this
    wrapper each Graph call would start one ``az`` process. A claims challenge (CAE) bypasses the cache.
    """

    def __init__(self, inner: Any, skew: float = 300):
        self._inner, self._skew = inner, skew
        self._cache: dict[Any, Any] = {}
        self._lock: Any = None  # created on first use, inside the running event loop

    async def get_token(self, *scopes: str, claims: str | None = None, **kwargs: Any) -> Any:
        """A cached token for ``scopes``, fetched from the inner credential when absent or expiring."""
        if claims:
            return await _maybe_await(self._inner.get_token(*scopes, claims=claims, **kwargs))
        key = (scopes, kwargs.get("tenant_id"))
        if self._lock is None:
            import asyncio

            self._lock = asyncio.Lock()
        async with self._lock:
            token = self._cache.get(key)
            if token is None or token.expires_on - self._skew < time.time():
                token = self._cache[key] = await _maybe_await(self._inner.get_token(*scopes, **kwargs))
            return token

    async def close(self) -> None:
        """Close the inner credential."""
        await _maybe_await(self._inner.close())

    async def __aenter__(self) -> CachingAsyncCredential:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


async def acquire_token(credential: Any, scope: str) -> Any:
    """``credential.get_token(scope)`` for aio and sync credentials alike (device code / browser are sync)."""
    return await _maybe_await(credential.get_token(scope))


async def close_credential(credential: Any) -> None:
    """Close an aio or sync credential (kiota never closes the credential it was given)."""
    close = getattr(credential, "close", None)
    if close is not None:
        await _maybe_await(close())


def github_oidc_token() -> str:
    """Fetch the GitHub Actions OIDC token for Entra's token exchange (needs ``id-token: write``).

    Called by ClientAssertionCredential each time it needs a fresh assertion. The request token is
    sent only to the URL GitHub gave the job.
    """
    import urllib.request

    url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    bearer = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if not url or not bearer:
        raise ConfigError(
            "GitHub Actions OIDC: ACTIONS_ID_TOKEN_REQUEST_URL/ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; "
            "run inside a GitHub Actions job whose workflow has `permissions: id-token: write`"
        )
    sep = "&" if urlsplit(url).query else "?"
    request = urllib.request.Request(
        url + sep + urlencode({"audience": GITHUB_AUDIENCE}),
        headers={"Authorization": f"bearer {bearer}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # the URL is the runner's own
            return json.load(response)["value"]
    except (OSError, ValueError, KeyError) as e:
        raise ProvisionerError(
            f"GitHub Actions OIDC: could not get an ID token from the runner ({type(e).__name__}); "
            "check `permissions: id-token: write` in the workflow"
        ) from None


def _device_code_prompt(verification_uri: str, user_code: str, expires_on: Any) -> None:
    import click

    click.echo(f"To sign in, open {verification_uri} and enter the code {user_code}", err=True)


def build_credential(profile: Profile) -> Any:
    """The azure-identity credential for a Graph profile's auth method, with its cloud's authority.

    Returns an ``azure.identity.aio`` credential, except for device code and browser sign-in, which
    azure-identity only offers as sync credentials (kiota accepts both). A static token
    (``auth = "token"``) and the local tenant need no credential: ConfigError (the composition root
    sends a static token itself).
    The caller owns the result and closes it (:func:`close_credential`).
    """
    if profile.is_local or not profile.auth:
        raise ConfigError(f"profile {profile.name!r} is the local tenant and needs no credential")
    method = profile.auth
    if method == "token":
        raise ConfigError(f"profile {profile.name!r} sends a static token and needs no credential")
    builder = _BUILDERS[method]
    return builder(profile, authority(profile))


def _certificate(profile: Profile, auth_host: str) -> Any:
    from azure.identity.aio import CertificateCredential

    path = profile.certificate_path
    assert path is not None  # required by config validation
    if not path.is_file():
        raise ConfigError(
            f"{profile.source or 'config'}: {profile.key('certificate_path')}: certificate file {path} not "
            "found; point it at the PEM or PFX file holding the certificate and its private key"
        )
    password = env_secret(profile, "certificate_password_env")
    try:
        return CertificateCredential(
            profile.tenant_id,
            profile.client_id,
            certificate_path=str(path),
            password=password,
            authority=auth_host,
        )
    except (ValueError, TypeError):
        # The library's message may quote key material; keep only what the admin can act on.
        raise ConfigError(
            f"{profile.source or 'config'}: {profile.key('certificate_path')}: cannot load the certificate "
            f"{path}; it must be PEM or PKCS12 with its private key, and the password (if any) must be in "
            "the variable named by certificate_password_env"
        ) from None


def _secret(profile: Profile, auth_host: str) -> Any:
    from azure.identity.aio import ClientSecretCredential

    secret = env_secret(profile, "client_secret_env")
    return ClientSecretCredential(profile.tenant_id, profile.client_id, secret, authority=auth_host)


def _workload_identity(profile: Profile, auth_host: str) -> Any:
    from azure.identity.aio import WorkloadIdentityCredential

    token_file = profile.token_file or os.environ.get("AZURE_FEDERATED_TOKEN_FILE")
    if not token_file:
        raise ConfigError(
            f"{profile.source or 'config'}: {profile.key('token_file')}: no federated token file; set "
            "token_file or run where AZURE_FEDERATED_TOKEN_FILE is set (Kubernetes workload identity)"
        )
    return WorkloadIdentityCredential(
        tenant_id=profile.tenant_id,
        client_id=profile.client_id,
        token_file_path=str(token_file),
        authority=auth_host,
    )


def _github_oidc(profile: Profile, auth_host: str) -> Any:
    from azure.identity.aio import ClientAssertionCredential

    if not os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        raise ConfigError(
            f"{profile.source or 'config'}: {profile.key('auth')}: github-oidc works only inside a GitHub "
            "Actions job with `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL is not set)"
        )
    return ClientAssertionCredential(
        profile.tenant_id, profile.client_id, github_oidc_token, authority=auth_host
    )


def _managed_identity(profile: Profile, auth_host: str) -> Any:
    from azure.identity.aio import ManagedIdentityCredential

    # The managed identity endpoint knows its cloud: ManagedIdentityCredential takes no authority.
    if profile.managed_identity_client_id:
        return ManagedIdentityCredential(client_id=profile.managed_identity_client_id)
    return ManagedIdentityCredential()


def _azure_cli(profile: Profile, auth_host: str) -> Any:
    from azure.identity.aio import AzureCliCredential

    # az signs in to whatever cloud `az cloud set` chose; the tenant pins which tenant's token we get.
    return CachingAsyncCredential(AzureCliCredential(tenant_id=profile.tenant_id, process_timeout=30))


def _device_code(profile: Profile, auth_host: str) -> Any:
    from azure.identity import DeviceCodeCredential

    return DeviceCodeCredential(
        client_id=profile.client_id,
        tenant_id=profile.tenant_id,
        authority=auth_host,
        prompt_callback=_device_code_prompt,
    )


def _browser(profile: Profile, auth_host: str) -> Any:
    from azure.identity import InteractiveBrowserCredential

    extra = {"redirect_uri": profile.redirect_uri} if profile.redirect_uri else {}
    return InteractiveBrowserCredential(
        client_id=profile.client_id, tenant_id=profile.tenant_id, authority=auth_host, **extra
    )


_BUILDERS = {
    "certificate": _certificate,
    "secret": _secret,
    "workload-identity": _workload_identity,
    "github-oidc": _github_oidc,
    "managed-identity": _managed_identity,
    "azure-cli": _azure_cli,
    "device-code": _device_code,
    "browser": _browser,
}


def token_claims(access_token: str) -> dict[str, Any]:
    """The claims of a JWT access token, decoded WITHOUT verifying the signature (for doctor only).

    App-only tokens list granted application permissions in ``roles``; delegated tokens list scopes in
    ``scp`` (space-separated).
    """
    parts = access_token.split(".")
    if len(parts) != 3:
        raise ProvisionerError("the access token is not a JWT (expected three dot-separated parts)")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        raise ProvisionerError("the access token's payload is not base64url-encoded JSON") from None
    if not isinstance(claims, dict):
        raise ProvisionerError("the access token's payload is not a JSON object")
    return claims
