"""``doctor`` as a use case: is the target usable, and what is missing for which command."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from provisioner.config import Profile
from provisioner.errors import ProvisionerError


@dataclass(frozen=True)
class Check:
    ok: bool
    text: str
    warn: bool = False  # usable, but Graph will refuse it for some users (those holding admin roles)


async def doctor(profile: Profile) -> AsyncIterator[Check]:
    """Sign in once, read the token's claims, reach the tenant, and check every command's permissions.

    One gateway and one credential: the token read for its claims is the one the checks use, so a
    device-code or browser sign-in happens once.
    """
    from contextlib import AsyncExitStack

    from provisioner import auth, command_needs, permissions
    from provisioner.bootstrap import connected

    async with AsyncExitStack() as stack:
        try:
            d = await stack.enter_async_context(connected(profile))
            claims = None if profile.is_local else auth.token_claims(await d.bearer_token())
        except Exception as e:  # any credential failure is the finding itself
            yield Check(False, f"credential ({profile.auth}): {type(e).__name__}: {e}")
            return
        granted: set[str] | None = None
        delegated = False
        wids: set[str] | None = None
        if claims is not None:
            delegated, granted = permissions.granted_from_claims(claims)
            wids = permissions.roles_from_claims(claims, delegated=delegated)
            who = claims.get("upn") or claims.get("app_displayname") or claims.get("appid") or "?"
            holder = "the signed-in admin" if delegated else "the app's service principal"
            roles = "not in the token" if wids is None else ", ".join(
                sorted(permissions.ROLE_NAMES.get(r, r) for r in wids)) or "none"
            yield Check(True, f"token: for {who}, tenant {claims.get('tid', '?')}, "
                              f"{'delegated' if delegated else 'application'} permissions: "
                              f"{', '.join(sorted(granted)) or 'none'}; directory roles of {holder}: {roles}")
        try:
            users = [u async for u in d.iter_users(top=1)][:1]
            yield Check(True, f"reachable: {d.label} answered (users readable: {'yes' if users else 'empty tenant'})")
        except ProvisionerError as e:
            yield Check(False, f"reachable: {e}")
    if granted is None:
        yield Check(True, "permissions: the local tenant grants every permission")
        return
    for result in command_needs.check_all(granted, delegated=delegated, wids=wids):
        yield Check(result.ok, f"{result.command}" + (f": {result.hint}" if result.hint else ""), result.warn)
