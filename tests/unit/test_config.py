"""config.toml: where it is found, what defaults apply, and every validation error's exact wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.config import Config, Execution, Safety, config_path, load_config
from provisioner.errors import ConfigError

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
PROD = f"""
[tenants.prod]
tenant_id = "{TENANT}"
client_id = "{CLIENT}"
"""


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PROVISIONER_CONFIG", raising=False)
    # click.get_app_dir honours XDG_CONFIG_HOME on Linux: keep the real user's config out of the tests.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    return str(e.value).replace(str(path), "FILE")


# -- location and precedence ------------------------------------------------------------------------


def test_no_config_anywhere_gives_the_builtin_local_profile() -> None:
    config = load_config(None)
    assert config.path is None
    profile = config.profile(None)
    assert (profile.name, profile.kind, profile.state, profile.is_local) == ("local", "local", None, True)
    assert profile.safety == Safety(protected_accounts=(), max_deletes=50)
    assert (profile.execution.write_budget, profile.execution.write_window_seconds) == (3000, 150.0)
    assert profile.execution.concurrency == 4
    assert profile.execution.journal.name == "journal.jsonl"
    assert "simulated" in profile.describe()


def test_default_location_is_the_click_app_dir(tmp_path: Path) -> None:
    path, explicit = config_path(None)
    assert path == tmp_path / "xdg" / "provisioner" / "config.toml"
    assert explicit is False
    path.parent.mkdir(parents=True)
    path.write_text('default_tenant = "box"\n[tenants.box]\nkind = "local"\n')
    assert load_config(None).profile(None).name == "box"


def test_env_var_beats_the_default_and_the_flag_beats_the_env_var(tmp_path: Path, monkeypatch) -> None:
    from_env = write(tmp_path, 'default_tenant = "a"\n[tenants.a]\nkind = "local"\n', "env.toml")
    from_flag = write(tmp_path, 'default_tenant = "b"\n[tenants.b]\nkind = "local"\n', "flag.toml")
    monkeypatch.setenv("PROVISIONER_CONFIG", str(from_env))
    assert load_config(None).profile(None).name == "a"
    assert load_config(from_flag).profile(None).name == "b"
    assert config_path(from_flag) == (from_flag, True)


def test_missing_explicit_file_is_an_error(tmp_path: Path, monkeypatch) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as e:
        load_config(missing)
    assert str(e.value) == (
        f"{missing}: config file not found; fix the path given by --config or copy config.example.toml there"
    )
    monkeypatch.setenv("PROVISIONER_CONFIG", str(missing))
    with pytest.raises(ConfigError, match=r"given by \$PROVISIONER_CONFIG"):
        load_config(None)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    assert error(tmp_path, "default_tenant = \n").startswith("FILE: not valid TOML: Invalid value (at line 1")


# -- profiles ---------------------------------------------------------------------------------------


def test_graph_profile_with_defaults_and_relative_paths(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
default_tenant = "prod"
{PROD}
auth = "certificate"
certificate_path = "certs/app.pem"
certificate_password_env = "CERT_PASS"
""",
    )
    config = load_config(path)
    assert isinstance(config, Config)
    prod = config.profile(None)
    assert (prod.kind, prod.cloud, prod.auth, prod.tenant_id, prod.client_id) == (
        "graph",
        "global",
        "certificate",
        TENANT,
        CLIENT,
    )
    assert prod.certificate_path == tmp_path / "certs" / "app.pem"
    assert prod.certificate_password_env == "CERT_PASS"
    assert prod.source == path
    assert prod.key("auth") == "tenants.prod.auth"
    assert config.profile("local").is_local  # the built-in profile is always there
    assert f"tenant {TENANT}" in prod.describe()


def test_unknown_profile_name(tmp_path: Path) -> None:
    path = write(tmp_path, PROD + 'auth = "azure-cli"\n')
    with pytest.raises(ConfigError) as e:
        load_config(path).profile("staging")
    assert str(e.value) == (
        f"{path}: no tenant profile named 'staging' (known: local, prod); "
        "add a [tenants.staging] section to the config or pick a known one with --tenant"
    )


def test_default_tenant_must_exist(tmp_path: Path) -> None:
    assert error(tmp_path, 'default_tenant = "prod"\n') == (
        "FILE: default_tenant: names no profile ('prod'; known: local); "
        "add a [tenants.prod] section or set default_tenant to a known profile"
    )


def test_local_profile_with_state(tmp_path: Path) -> None:
    path = write(tmp_path, '[tenants.local]\nkind = "local"\nstate = "~/x/tenant.db"\n')
    assert load_config(path).profile("local").state == Path("~/x/tenant.db").expanduser()


def test_local_profile_refuses_graph_keys(tmp_path: Path) -> None:
    assert error(tmp_path, f'[tenants.box]\nkind = "local"\ntenant_id = "{TENANT}"\n') == (
        'FILE: tenants.box.tenant_id: only used by kind = "graph" profiles; this one has kind = "local"; '
        'remove it, or set kind = "graph" for a real tenant'
    )


def test_unknown_kind(tmp_path: Path) -> None:
    assert error(tmp_path, '[tenants.x]\nkind = "real"\n') == (
        'FILE: tenants.x.kind: unknown kind \'real\'; use "local" or "graph"'
    )


# -- safety and execution ---------------------------------------------------------------------------


def test_safety_and_execution_merge_globals_with_profile_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
[safety]
protected_accounts = ["Breakglass@contoso.com"]
max_deletes = 10
[execution]
write_budget = 1000
concurrency = 2
journal = "logs/journal.jsonl"
{PROD}
auth = "azure-cli"
[tenants.prod.safety]
protected_accounts = ["ceo@contoso.com"]
[tenants.prod.execution]
concurrency = 8
write_window_seconds = 60
""",
    )
    config = load_config(path)
    prod, local = config.profile("prod"), config.profile("local")
    assert prod.safety == Safety(protected_accounts=("breakglass@contoso.com", "ceo@contoso.com"), max_deletes=10)
    assert prod.execution == Execution(
        write_budget=1000,
        write_window_seconds=60.0,
        concurrency=8,
        journal=tmp_path / "logs" / "journal.jsonl",
    )
    assert local.safety.protected_accounts == ("breakglass@contoso.com",)
    assert local.execution.concurrency == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[safety]\nmax_deletes = -1\n",
            "FILE: safety.max_deletes: must be at least 0, got -1; set a larger value",
        ),
        (
            "[execution]\nconcurrency = 0\n",
            "FILE: execution.concurrency: must be at least 1, got 0; set a larger value",
        ),
        (
            '[execution]\nwrite_budget = "lots"\n',
            "FILE: execution.write_budget: expected an integer, got a string; write it like key = 10",
        ),
        (
            "[safety]\nmax_deletes = true\n",
            "FILE: safety.max_deletes: expected an integer, got a boolean; write it like key = 10",
        ),
        (
            '[safety]\nprotected_accounts = "admin@contoso.com"\n',
            "FILE: safety.protected_accounts: expected a list of strings, got a string; "
            'write it like key = ["a@contoso.com", "b@contoso.com"]',
        ),
        (
            '[safety]\nprotected_accounts = ["admin"]\n',
            "FILE: safety.protected_accounts[0]: 'admin' is not a user principal name; write it as name@domain",
        ),
        (
            "[safety]\nmax_delete = 5\n",
            "FILE: safety.max_delete: unknown key (known keys here: protected_accounts, max_deletes, confirm, "
            "confirm_above); "
            "did you mean safety.max_deletes?",
        ),
        (
            'defualt_tenant = "x"\n',
            "FILE: defualt_tenant: unknown key (known keys here: default_tenant, tenants, safety, execution, audit); "
            "did you mean default_tenant?",
        ),
        (
            "safety = 3\n",
            "FILE: safety: expected a table, got an integer; write it like [section]",
        ),
    ],
)
def test_section_errors(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text) == message


# -- graph profile validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "",
            "FILE: tenants.prod.auth: missing; set auth to one of certificate, secret, workload-identity, "
            "github-oidc, managed-identity, azure-cli, device-code, browser, token",
        ),
        (
            'auth = "cert"',
            "FILE: tenants.prod.auth: unknown auth method 'cert'; use one of certificate, secret, "
            "workload-identity, github-oidc, managed-identity, azure-cli, device-code, browser, token "
            "(did you mean 'secret'?)",
        ),
        (
            'auth = "azure-cli"\ncloud = "usgovv"',
            "FILE: tenants.prod.cloud: unknown cloud 'usgovv'; use one of global, usgov, usgov-dod, china "
            "(did you mean 'usgov'?)",
        ),
        (
            'auth = "certificate"',
            'FILE: tenants.prod.certificate_path: missing; auth = "certificate" needs it; '
            "add certificate_path = ... to [tenants.prod] (see config.example.toml)",
        ),
        (
            'auth = "secret"',
            'FILE: tenants.prod.client_secret_env: missing; auth = "secret" needs it; '
            "add client_secret_env = ... to [tenants.prod] (see config.example.toml)",
        ),
        (
            'auth = "azure-cli"\nclient_secret_env = "X"',
            'FILE: tenants.prod.client_secret_env: only used with auth = "secret", but this profile has '
            'auth = "azure-cli"; remove it or change auth',
        ),
        (
            'auth = "azure-cli"\ntenantid = "x"',
            "FILE: tenants.prod.tenantid: unknown key (known keys here: kind, cloud, tenant_id, client_id, auth, "
            "graph_url, certificate_path, certificate_password_env, client_secret_env, token_file, token_env, "
            "managed_identity_client_id, redirect_uri, safety, execution); did you mean tenants.prod.tenant_id?",
        ),
        (
            "auth = 3",
            'FILE: tenants.prod.auth: expected a string, got an integer; write it like key = "text"',
        ),
    ],
)
def test_graph_profile_errors(tmp_path: Path, extra: str, message: str) -> None:
    assert error(tmp_path, PROD + extra + "\n") == message


def test_missing_tenant_id(tmp_path: Path) -> None:
    assert error(tmp_path, f'[tenants.p]\nclient_id = "{CLIENT}"\nauth = "device-code"\n') == (
        'FILE: tenants.p.tenant_id: missing; auth = "device-code" needs it; '
        "add tenant_id = ... to [tenants.p] (see config.example.toml)"
    )


def test_ids_must_look_like_ids(tmp_path: Path) -> None:
    bad_tenant = '[tenants.p]\ntenant_id = "my tenant"\nauth = "azure-cli"\n'
    assert error(tmp_path, bad_tenant) == (
        "FILE: tenants.p.tenant_id: 'my tenant' is neither a tenant ID (GUID) nor a domain; "
        "copy the Directory (tenant) ID from the Entra admin center's Overview page"
    )
    bad_client = '[tenants.p]\ntenant_id = "contoso.onmicrosoft.com"\nclient_id = "app"\nauth = "browser"\n'
    assert error(tmp_path, bad_client) == (
        "FILE: tenants.p.client_id: 'app' is not a GUID; "
        "copy the Application (client) ID from the app registration's Overview page"
    )


def test_every_auth_method_loads_with_its_required_fields(tmp_path: Path) -> None:
    methods = {
        "certificate": 'certificate_path = "app.pem"',
        "secret": 'client_secret_env = "APP_SECRET"',
        "workload-identity": 'token_file = "/var/run/secrets/azure/tokens/azure-identity-token"',
        "github-oidc": "",
        "managed-identity": f'managed_identity_client_id = "{CLIENT}"',
        "azure-cli": "",
        "device-code": "",
        "browser": 'redirect_uri = "http://localhost:8400"',
        "token": 'token_env = "GRAPH_TOKEN"',
    }
    text = "".join(
        f'[tenants.{m}]\ntenant_id = "{TENANT}"\nclient_id = "{CLIENT}"\nauth = "{m}"\n{extra}\n'
        for m, extra in methods.items()
    )
    config = load_config(write(tmp_path, text))
    assert {name: config.profile(name).auth for name in methods} == {m: m for m in methods}


# -- secrets ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "fix"),
    [
        ("client_secret", "client_secret_env"),
        ("secret", "client_secret_env"),
        ("password", 'certificate_password_env (or use auth = "certificate")'),
        ("certificate_password", 'certificate_password_env (or use auth = "certificate")'),
        ("token", "token_env"),
        ("access_token", "token_env"),
    ],
)
def test_secret_in_the_file_is_refused_without_echoing_it(tmp_path: Path, key: str, fix: str) -> None:
    message = error(tmp_path, PROD + f'auth = "secret"\nclient_secret_env = "S"\n{key} = "Sup3r~s3cret"\n')
    assert message == (
        f"FILE: tenants.prod.{key}: a secret must not be written in the config file; "
        f"put it in an environment variable and name it with {fix}"
    )
    assert "Sup3r" not in message


def test_secret_at_top_level_is_refused(tmp_path: Path) -> None:
    assert error(tmp_path, 'client_secret = "abc"\n') == (
        "FILE: client_secret: a secret must not be written in the config file; "
        "put it in an environment variable and name it with client_secret_env"
    )


def test_env_key_holding_a_value_instead_of_a_name_is_refused_without_echoing_it(tmp_path: Path) -> None:
    message = error(tmp_path, PROD + 'auth = "secret"\nclient_secret_env = "Q8~abc.def-123"\n')
    assert message == (
        "FILE: tenants.prod.client_secret_env: must be the name of an environment variable "
        '(letters, digits and _), not its value; write client_secret_env = "MY_VARIABLE" and export '
        "MY_VARIABLE with the secret"
    )
    assert "Q8~" not in message


# -- graph_url --------------------------------------------------------------------------------------


def test_loopback_token_profile(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[tenants.serve]\nauth = "token"\ntoken_env = "PROVISIONER_TOKEN"\ngraph_url = "http://127.0.0.1:8123/v1.0/"\n',
    )
    serve = load_config(path).profile("serve")
    assert (serve.kind, serve.auth, serve.graph_url, serve.tenant_id) == (
        "graph",
        "token",
        "http://127.0.0.1:8123/v1.0",
        None,
    )


def test_real_credential_with_the_clouds_own_graph_url_is_accepted(tmp_path: Path) -> None:
    text = PROD + 'auth = "azure-cli"\ncloud = "usgov"\ngraph_url = "https://graph.microsoft.us/v1.0"\n'
    assert load_config(write(tmp_path, text)).profile("prod").graph_url == "https://graph.microsoft.us/v1.0"


@pytest.mark.parametrize(
    ("auth", "url", "message"),
    [
        (
            "azure-cli",
            "http://127.0.0.1:8123/v1.0",
            'FILE: tenants.prod.graph_url: auth = "azure-cli" is a real tenant credential and is only ever sent '
            "to the global cloud's Microsoft Graph host (graph.microsoft.com); remove graph_url, "
            'or use auth = "token" with token_env for a loopback test target',
        ),
        (
            "azure-cli",
            "https://graph.microsoft.us/v1.0",
            'FILE: tenants.prod.graph_url: auth = "azure-cli" is a real tenant credential and is only ever sent '
            "to the global cloud's Microsoft Graph host (graph.microsoft.com); remove graph_url, "
            'or use auth = "token" with token_env for a loopback test target',
        ),
        (
            "azure-cli",
            "https://graph.evil.example/v1.0",
            'FILE: tenants.prod.graph_url: auth = "azure-cli" is a real tenant credential and is only ever sent '
            "to the global cloud's Microsoft Graph host (graph.microsoft.com); remove graph_url, "
            'or use auth = "token" with token_env for a loopback test target',
        ),
        (
            "token",
            "http://emulator:8123/v1.0",
            "FILE: tenants.prod.graph_url: plain http is only allowed to a loopback host; use https:// or 127.0.0.1",
        ),
        (
            "token",
            "https://graph.example.org/v1.0",
            "FILE: tenants.prod.graph_url: a static token is only sent to a loopback host or to "
            "graph.microsoft.com (the global cloud's Graph); "
            "point graph_url at 127.0.0.1 (provisioner local serve) or remove it",
        ),
        (
            "token",
            "ftp://127.0.0.1/v1.0",
            "FILE: tenants.prod.graph_url: 'ftp://127.0.0.1/v1.0' is not an http(s) URL; "
            'write it like "https://host/v1.0"',
        ),
        (
            "token",
            "http://127.0.0.1:8123/beta",
            "FILE: tenants.prod.graph_url: must be the Graph v1.0 base URL; "
            'end it with "/v1.0", e.g. "http://127.0.0.1:8123/v1.0"',
        ),
    ],
)
def test_graph_url_rules(tmp_path: Path, auth: str, url: str, message: str) -> None:
    extra = 'token_env = "T"\n' if auth == "token" else ""
    assert error(tmp_path, PROD + f'auth = "{auth}"\n{extra}graph_url = "{url}"\n') == message


def test_the_example_config_loads_and_shows_every_auth_method_and_cloud() -> None:
    from provisioner.auth import CLOUDS
    from provisioner.config_auth import AUTH_METHODS

    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    config = load_config(example)
    profiles = [config.profile(name) for name in config.profiles]
    assert {p.auth for p in profiles if not p.is_local} == set(AUTH_METHODS)
    assert {p.cloud for p in profiles if not p.is_local} == set(CLOUDS)
    served = config.profile("served")
    assert (served.auth, served.graph_url) == ("token", "http://127.0.0.1:8123/v1.0")
    prod = config.profile("prod")
    assert "breakglass@contoso.onmicrosoft.com" in prod.safety.protected_accounts
    assert "ceo@contoso.com" in prod.safety.protected_accounts
    assert config.profile(None).is_local


def test_the_name_local_is_reserved_for_the_local_tenant(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, '[tenants.local]\nstate = "t.db"\n')).profile(None).state == tmp_path / "t.db"
    assert error(tmp_path, f'[tenants.local]\ntenant_id = "{TENANT}"\nauth = "azure-cli"\n') == (
        'FILE: tenants.local.kind: the profile name "local" is reserved for the local tenant; '
        "give the real tenant's profile another name, e.g. [tenants.prod]"
    )
