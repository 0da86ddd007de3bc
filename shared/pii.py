"""Masking of contact details for logs: enough to tell two numbers apart, not enough to call one."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """'+14155550123' -> '+1*******23'."""
    if len(phone) < 6:
        return "*" * len(phone)
    return phone[:2] + "*" * (len(phone) - 4) + phone[-2:]


def mask_email(email: str) -> str:
    """'ana.smith@example.com' -> 'a***@example.com'."""
    local, sep, domain = email.partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"
