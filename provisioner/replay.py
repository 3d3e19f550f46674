"""``provisioner local replay``: a ``--record`` file sent again, in order, to a fresh local tenant,
and where the local answers differ from the recorded ones.

Only what a tool depends on is compared: the status, the error code, and the property names of the
body (``value[].id``), never values such as ids and dates. `$batch` answers are compared item by
item. Ids the recorded tenant handed out are mapped to the ones the fresh tenant hands out, so a
recorded "create, then assign to its id" still lands on the new object; a redacted password is
replaced by a freshly generated one.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from provisioner.errors import ConfigError
from provisioner.record import REDACTED

_VERSION_ROOT = re.compile(r"^https?://[^/]+/(?:v1\.0|beta)(?=/|$)")
_DOMAIN = re.compile(r"[\w.%+'#$-]@([a-z0-9-]+(?:\.[a-z0-9-]+)+)", re.IGNORECASE)
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# Hop-by-hop and computed headers: httpx sets its own for the replayed request.
_NOT_RESENT = frozenset({"host", "content-length", "transfer-encoding", "connection", "accept-encoding"})


@dataclass(frozen=True)
class Exchange:
    line: int
    method: str
    path: str  # below the version root, with its query, as sent
    headers: dict[str, str]
    body: Any
    status: int | None
    answer: Any

    @property
    def label(self) -> str:
        return f"line {self.line}: {self.method} {shown(self.path)}"


def shown(url: str) -> str:
    """A URL as a reader wants it in a one-line difference: decoded, and a long $select cut short."""
    text = unquote(url)
    return text if len(text) <= 120 else text[:117] + "..."


def load(path: Path) -> list[Exchange]:
    """The exchanges of a ``--record`` file; a line that is not one is refused by its number."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"FILE: cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    exchanges = []
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            entry = json.loads(text)
            url = entry["url"]
            match = _VERSION_ROOT.match(url)
            if match is None:
                raise ValueError(f"url {url[:80]!r} is not a Microsoft Graph URL")
            exchanges.append(Exchange(number, str(entry["method"]).upper(), url[match.end():] or "/",
                                      dict(entry.get("requestHeaders") or {}), entry.get("requestBody"),
                                      entry.get("status"), entry.get("responseBody")))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            reason = f"missing {e}" if isinstance(e, KeyError) else str(e)
            raise ConfigError(f"FILE line {number}: not a recorded exchange ({reason}); give a file written by "
                             "--record") from None
    return exchanges


def domains(exchanges: list[Exchange]) -> list[str]:
    """The domains of the UPNs the recording mentions, most mentioned first: the fresh tenant
    verifies them all, so recorded users can be created again."""
    counts: Counter[str] = Counter()
    for ex in exchanges:
        text = unquote(ex.path) + json.dumps([ex.body, ex.answer])
        counts.update(m.group(1).lower() for m in _DOMAIN.finditer(text))
    return [d for d, _ in counts.most_common()]


def property_names(body: Any, path: str = "") -> set[str]:
    names: set[str] = set()
    if isinstance(body, dict):
        for key, value in body.items():
            sub = f"{path}.{key}" if path else key
            names.add(sub)
            names |= property_names(value, sub)
    elif isinstance(body, list):
        for item in body:
            names |= property_names(item, f"{path}[]")
    return names


def error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return error.get("code") if isinstance(error, dict) else None


def compare(label: str, status: int | None, body: Any, local_status: int, local_body: Any,
            skip: frozenset[str] = frozenset()) -> list[str]:
    """One line per difference between a recorded answer and the local one."""
    out = []
    if status != local_status:
        recorded = "no answer" if status is None else f"status {status}"
        out.append(f"{label}: {recorded} recorded, {local_status} locally")
    code, local_code = error_code(body), error_code(local_body)
    if code != local_code:
        out.append(f"{label}: error {code or 'none'} recorded, {local_code or 'none'} locally")
    if status == local_status:  # different statuses differ in body shape by nature
        names = {n for n in property_names(body) if n.split(".")[0].split("[")[0] not in skip}
        local_names = {n for n in property_names(local_body) if n.split(".")[0].split("[")[0] not in skip}
        out += [f"{label}: property {n} only recorded" for n in sorted(names - local_names)]
        out += [f"{label}: property {n} only locally" for n in sorted(local_names - names)]
    return out


class Replayer:
    """Sends exchanges to one local tenant, carrying the recorded-to-local id map along."""

    def __init__(self, client: Any):
        self.client = client
        self.ids: dict[str, str] = {}

    def _local(self, text: str) -> str:
        for recorded, local in self.ids.items():
            text = text.replace(recorded, local)
        return text

    def _body(self, body: Any) -> Any:
        from provisioner.passwords import generate

        def restore(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: generate() if k == "password" and v == REDACTED else restore(v)
                        for k, v in value.items() if k == "password" or v != REDACTED}
            if isinstance(value, list):
                return [restore(v) for v in value]
            return value

        return json.loads(self._local(json.dumps(restore(body)))) if body is not None else None

    def _pair(self, recorded: str, local: str) -> None:
        if len(recorded) >= 8 and recorded != local and recorded not in self.ids:
            self.ids[recorded] = local
            if _GUID.match(recorded) and _GUID.match(local):  # a deleted user's UPN starts with its bare id
                self.ids.setdefault(recorded.replace("-", ""), local.replace("-", ""))

    def _learn(self, recorded: Any, local: Any) -> None:
        """Pairs the ids of the recorded answer with those of the local one, object by object."""
        if isinstance(recorded, dict) and isinstance(local, dict):
            for key in recorded.keys() & local.keys():
                rid, lid = recorded[key], local[key]
                if (key == "id" or key.endswith("Id")) and isinstance(rid, str) and isinstance(lid, str):
                    self._pair(rid, lid)
                else:
                    self._learn(rid, lid)
        elif isinstance(recorded, list) and isinstance(local, list):
            by_upn = {str(x.get("userPrincipalName", "")).lower(): x for x in local if isinstance(x, dict)}
            for i, item in enumerate(recorded):
                upn = str(item.get("userPrincipalName", "")).lower() if isinstance(item, dict) else ""
                if upn and upn in by_upn:
                    self._learn(item, by_upn[upn])
                elif len(recorded) == len(local):
                    self._learn(item, local[i])

    async def send(self, ex: Exchange) -> list[str]:
        from provisioner.local import LOCAL_BASE_URL

        headers = {k: v for k, v in ex.headers.items() if k.lower() not in _NOT_RESENT and v != REDACTED}
        body = self._body(ex.body)
        if isinstance(body, str):
            content = body.encode()
        else:
            content = None if body is None else json.dumps(body).encode()
        answer = await self.client.request(ex.method, LOCAL_BASE_URL + self._local(ex.path), headers=headers,
                                           content=content)
        try:
            local_body = answer.json() if answer.content else None
        except ValueError:
            local_body = answer.text
        if ex.path.split("?")[0].rstrip("/") != "/$batch":
            self._learn(ex.answer, local_body)
            return compare(ex.label, ex.status, ex.answer, answer.status_code, local_body)
        out = compare(ex.label, ex.status, ex.answer, answer.status_code, local_body, skip=frozenset({"responses"}))
        return out + self._items(ex, body, local_body)

    def _items(self, ex: Exchange, sent: Any, local_body: Any) -> list[str]:
        """A `$batch` compared item by item (Graph may answer items in any order)."""
        def by_id(body: Any) -> dict[str, dict]:
            items = body.get("responses") if isinstance(body, dict) else None
            return {str(i.get("id")): i for i in items or [] if isinstance(i, dict)}

        recorded, local = by_id(ex.answer), by_id(local_body)

        def items(body: Any) -> list[dict]:
            found = body.get("requests") if isinstance(body, dict) else None
            return [i for i in found or [] if isinstance(i, dict)]

        out = []
        # Item ids may hold object ids, rewritten for the local tenant: pair the items by position.
        for request, resent in zip(items(ex.body), items(sent), strict=False):
            rid = str(request.get("id"))
            label = f"{ex.label} item {rid} {request.get('method', '?')} {shown(str(request.get('url', '')))}"
            mine, theirs = recorded.get(rid), local.get(str(resent.get("id")))
            if theirs is None:
                out.append(f"{label}: no local answer")
            elif mine is None:
                if ex.answer is not None:
                    out.append(f"{label}: no answer recorded, {theirs.get('status')} locally")
            else:
                self._learn(mine.get("body"), theirs.get("body"))
                out += compare(label, mine.get("status"), mine.get("body"), theirs.get("status"),
                               theirs.get("body"))
        return out


async def replay(exchanges: list[Exchange], state: Path) -> list[str]:
    """Sends ``exchanges`` in order to the local tenant at ``state``; every difference, in order."""
    import httpx

    from provisioner import local
    from provisioner.bootstrap import LOCAL_TOKEN

    # A bearer token, as the product sends one: the recording never holds the real one.
    client = httpx.AsyncClient(transport=local.transport(state, realism=local.Realism()), timeout=100,
                               headers={"Authorization": f"Bearer {LOCAL_TOKEN}"})
    differences: list[str] = []
    async with client:
        replayer = Replayer(client)
        for ex in exchanges:
            differences += await replayer.send(ex)
    return differences


def replay_file(path: Path) -> tuple[int, list[str]]:
    """Replays a ``--record`` file on a fresh local tenant in a temporary file: (exchanges, differences)."""
    import asyncio

    from provisioner import local

    exchanges = load(path)
    with tempfile.TemporaryDirectory(prefix="provisioner-replay-") as tmp:
        state = Path(tmp) / "tenant.db"
        names = domains(exchanges) or ["contoso.onmicrosoft.com"]
        local.init_tenant(state, domain=names[0])
        for name in names[1:]:
            try:
                local.add_domain(state, name)
            except ValueError:
                pass  # not a domain the tenant can verify (a mail address in some text): nothing to add
        return len(exchanges), asyncio.run(replay(exchanges, state))
