"""The use cases, one async function each: the layer the CLI calls, and the Python API.

Open a target, call a use case, read its typed result::

    import asyncio
    from provisioner import services
    from provisioner.model import UserSpec

    async def main() -> None:
        async with services.open_target() as target:  # the local tenant unless configured otherwise
            spec = UserSpec("adele@contoso.onmicrosoft.com", {"displayName": "Adele Vance"}, roles=("billing",))
            done = await services.create_users(target, [spec])
            print(done.report.ok, done.created, sorted(done.passwords.generated))

    asyncio.run(main())

A mutating use case reads what it needs, plans, refuses before the first write when a guardrail
says so (:class:`provisioner.errors.Refused`), shows the plan to its ``review`` (default: write it;
:class:`DryRun` writes nothing) and runs it.
"""

from provisioner.services.audit import audit
from provisioner.services.doctor import Check, doctor
from provisioner.services.fixes import fix_plan
from provisioner.services.leavers import offboard_users, reset_passwords
from provisioner.services.lifecycle import set_enabled, update_users
from provisioner.services.plans import apply_plan, check_plan, plan_sync, sync
from provisioner.services.roles import RoleMembers, RoleSummary, assign_roles, list_roles, revoke_roles, role_members
from provisioner.services.target import (
    Applied,
    Approve,
    DryRun,
    Passwords,
    Review,
    RunOptions,
    Target,
    open_target,
)
from provisioner.services.users import (
    DeletedList,
    Restored,
    UserDetails,
    create_users,
    delete_users,
    deleted_users,
    list_users,
    purge_users,
    restore_users,
    show_user,
)

__all__ = [
    "Applied", "Approve", "Check", "DeletedList", "DryRun", "Passwords", "Restored", "Review", "RoleMembers",
    "RoleSummary", "RunOptions", "Target", "UserDetails", "apply_plan", "assign_roles", "audit", "check_plan",
    "create_users", "delete_users", "deleted_users", "doctor", "fix_plan", "list_roles", "list_users", "offboard_users",
    "open_target", "plan_sync", "purge_users", "reset_passwords", "restore_users", "revoke_roles", "role_members",
    "set_enabled", "show_user", "sync", "update_users",
]
