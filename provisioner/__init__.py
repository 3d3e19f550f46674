"""provisioner: manage Microsoft 365 / Entra ID users and admin roles through Microsoft Graph."""

__version__ = "0.1.0"
