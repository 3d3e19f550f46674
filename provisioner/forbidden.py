"""Why Graph answered 403: the one body Graph sends for every cause, turned into what is missing.

A refused read names the permission its endpoint needs. A refused write is explained from the
token the run used (its ``roles``, ``scp`` and ``wids``, read once) and the admin roles its user
holds (read once per user, only after a refusal), by :func:`provisioner.permissions.refusal`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from provisioner.changes import Action, Change
from provisioner.graph import Request, Response
from provisioner.permissions import Grants, is_sensitive, read_refusal, refusal
from provisioner.queries import assignments_request

if TYPE_CHECKING:
    from provisioner.directory import Directory


def _with_message(resp: Response, hint: str) -> Response:
    body = resp.body if isinstance(resp.body, Mapping) else {}
    error = dict(body.get("error") or {}) if isinstance(body.get("error"), Mapping) else {}
    error["message"] = f"{error.get('message') or 'Forbidden.'} {hint}"
    return Response(resp.id, resp.status, resp.headers, {**body, "error": error})


def explained_read(request: Request, resp: Response) -> Response:
    """A read's 403 with the permission its endpoint needs added to Graph's message."""
    hint = read_refusal(request.method, request.url) if resp.status == 403 else None
    return _with_message(resp, hint) if hint else resp


class Refusals:
    """The 403s of one run: what the token grants and what the refused users hold, each read once."""

    def __init__(self) -> None:
        self._grants: Grants | None = None
        self._asked = False
        self._roles: dict[str, set[str]] = {}

    async def learn(self, directory: Directory, changes: Sequence[Change]) -> None:
        """Read what explaining ``changes`` needs and is not known yet: the token's claims, and the
        roles of the active users whose sensitive change was refused (one batched read)."""
        if not self._asked:
            self._asked = True
            from provisioner.auth import token_claims

            try:
                self._grants = Grants.from_claims(token_claims(await directory.bearer_token()))
            except Exception:  # no token, not a JWT, a credential gone: the explanation names every cause
                self._grants = None
        ids = sorted({c.object_id for c in changes if c.object_id and c.object_id not in self._roles
                      and c.action is not Action.RESTORE and is_sensitive(c.action, set(c.updates))})
        if not ids:
            return
        answers = await directory.read([assignments_request(str(n), principal_id=i) for n, i in enumerate(ids)])
        for n, object_id in enumerate(ids):
            resp = answers.get(str(n))
            if resp is not None and resp.ok:
                self._roles[object_id] = {str(a.get("roleDefinitionId", "")).lower() for a in resp.values()}

    def explain(self, change: Change, message: str) -> str:
        """Graph's message for a refused ``change``, followed by what is missing."""
        roles = None if change.action is Action.RESTORE else self._roles.get(change.object_id or "")
        why = refusal(change.action, change.upn, grants=self._grants, target_roles=roles,
                      changed=set(change.updates))
        return f"{message} {why}"
