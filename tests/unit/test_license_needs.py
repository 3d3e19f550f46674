"""doctor: the license needs of the commands that assign licenses from their input."""

from __future__ import annotations

from provisioner import command_needs as needs


def test_inputs_with_licenses_need_the_license_permissions() -> None:
    # Enough to update users (User.ReadUpdate.All does not cover assignLicense) and read them.
    granted = {"User.Read.All", "User.ReadUpdate.All"}
    checks = {c.command: c for c in needs.check_all(granted)}
    update = checks["users update"]
    assert (update.ok, update.warn) == (True, True)
    assert ("--from with a licenses column needs the application permission Organization.Read.All (or "
            "Directory.Read.All, Organization.ReadWrite.All, Directory.ReadWrite.All).") in update.hint
    assert ("--from with a licenses column needs the application permission LicenseAssignment.ReadWrite.All (or "
            "User.ReadWrite.All, Directory.ReadWrite.All).") in update.hint
    for command, option in (("users create", "--license (or a licenses column)"), ("sync", "a manifest with licenses"),
                            ("apply", "a plan with license changes")):
        assert f"{option} needs the application permission Organization.Read.All" in checks[command].hint
    # Granted, no license gap is left.
    granted |= {"Organization.Read.All", "LicenseAssignment.ReadWrite.All"}
    assert "licenses column" not in needs.check_all(granted)[0].hint + {
        c.command: c for c in needs.check_all(granted)}["users update"].hint
