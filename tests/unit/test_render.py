from __future__ import annotations

from provisioner.changes import Action, Change, PasswordSource, Plan
from provisioner.render import render_markdown, render_text, summary

GA = "62e90394-69f5-4237-9190-012177145e10"
PLAN = Plan(
    (
        Change(
            Action.CREATE,
            "alice@contoso.com",
            properties={
                "userPrincipalName": "alice@contoso.com",
                "displayName": "Alice Archer",
                "accountEnabled": True,
            },
            password=PasswordSource.GENERATE,
            reason="not in the tenant",
        ),
        Change(Action.ASSIGN, "alice@contoso.com", role_id=GA, role_name="Global Administrator", reason="requested"),
        Change(Action.UPDATE, "bob@contoso.com", "b1", updates={"jobTitle": ("Engineer", "Lead")}, reason="differs"),
        Change(Action.RESTORE, "carol@contoso.com", "c1", reason="deleted 2026-05-08, 18 days left"),
        Change(Action.DELETE, "dan@contoso.com", "d1", reason="soft delete"),
        Change(Action.PURGE, "erin@contoso.com", "e1", reason="deleted 2026-04-21, 0 days left"),
    )
)

EXPECTED = """\
Changes are marked: + create, assign role; ~ update; ^ restore; - delete, purge

  # user alice@contoso.com will be created (not in the tenant)
  + user alice@contoso.com
        userPrincipalName = "alice@contoso.com"
        displayName       = "Alice Archer"
        accountEnabled    = true
        passwordProfile   = (generated)

  # user bob@contoso.com will be updated in-place (differs)
  ~ user bob@contoso.com (b1)
      ~ jobTitle = "Engineer" -> "Lead"

  # user carol@contoso.com will be restored (deleted 2026-05-08, 18 days left)
  ^ user carol@contoso.com (c1)

  # role Global Administrator will be assigned to alice@contoso.com (requested)
  + role Global Administrator -> alice@contoso.com

  # user dan@contoso.com will be deleted (soft delete)
  - user dan@contoso.com (d1)

  # user erin@contoso.com will be permanently deleted (purge; deleted 2026-04-21, 0 days left)
  - user erin@contoso.com (e1)

Plan: 1 to create, 1 to update, 1 to restore, 1 role assignment to add, 1 to delete, 1 to purge."""


def test_render_text_exact():
    assert render_text(PLAN) == EXPECTED


def test_render_text_color_marks_only_markers():
    text = render_text(Plan((PLAN.changes[4],)), color=True)
    assert text.splitlines()[0] == "Changes are marked: \x1b[31m-\x1b[0m delete"
    assert "  \x1b[31m- user dan@contoso.com (d1)\x1b[0m" in text.splitlines()


def test_summary_counts_and_plurals():
    revokes = tuple(
        Change(Action.REVOKE, f"u{i}@contoso.com", f"o{i}", role_id=GA, role_name="Global Administrator")
        for i in range(2)
    )
    assert summary(Plan(revokes)) == "Plan: 2 role assignments to remove."
    assert summary(Plan()) == "No changes. The tenant already matches."
    assert render_text(Plan()) == "No changes. The tenant already matches."
    assert render_markdown(Plan()) == "No changes. The tenant already matches."


def test_render_markdown_exact():
    plan = Plan((PLAN.changes[0], PLAN.changes[3], PLAN.changes[1]))
    assert render_markdown(plan) == "\n".join(
        [
            "### Plan: 1 to create, 1 to update, 1 role assignment to add.",
            "",
            "#### Users to create (1)",
            "",
            "| User | Attributes | Reason |",
            "|---|---|---|",
            "| `alice@contoso.com` | userPrincipalName: alice@contoso.com<br>displayName: Alice Archer<br>"
            "accountEnabled: true<br>passwordProfile: (generated) | not in the tenant |",
            "",
            "#### Users to update (1)",
            "",
            "| User | Changes | Reason |",
            "|---|---|---|",
            "| `bob@contoso.com` | jobTitle: Engineer → Lead | differs |",
            "",
            "#### Role assignments to add (1)",
            "",
            "| User | Role | Reason |",
            "|---|---|---|",
            "| `alice@contoso.com` | Global Administrator | requested |",
        ]
    )


def test_markdown_escapes_pipes():
    plan = Plan((Change(Action.DELETE, "x@contoso.com", "x1", reason="a | b"),))
    assert render_markdown(plan).splitlines()[-1] == "| `x@contoso.com` | `x1` | a \\| b |"
