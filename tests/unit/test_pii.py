"""Unit tests for shared.pii: masks keep just enough to tell contacts apart."""

from __future__ import annotations

import pytest

from shared.pii import mask_email, mask_phone


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("+14155550123", "+1********23"),
        ("+442071838750", "+4*********50"),
        ("4155550123", "41******23"),
        ("123456", "12**56"),  # the shortest input that keeps its ends
    ],
)
def test_mask_phone_keeps_first_two_and_last_two(phone: str, expected: str) -> None:
    masked = mask_phone(phone)
    assert masked == expected
    assert len(masked) == len(phone)
    assert masked[:2] == phone[:2] and masked[-2:] == phone[-2:]
    assert set(masked[2:-2]) == {"*"}


@pytest.mark.parametrize("phone", ["", "1", "12", "1234", "12345"])
def test_mask_phone_short_inputs_are_fully_masked(phone: str) -> None:
    assert mask_phone(phone) == "*" * len(phone)


def test_mask_phone_hides_the_middle_digits() -> None:
    masked = mask_phone("+14155550123")
    assert "4155550" not in masked
    assert sum(c.isdigit() for c in masked) == 3  # '1' of +1 and the last two digits


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        ("ana.smith@example.com", "a***@example.com"),
        ("ana@example.com", "a***@example.com"),
        ("a@example.com", "a***@example.com"),
        ("@example.com", "***@example.com"),
        ("bob+tag@mail.co.uk", "b***@mail.co.uk"),
    ],
)
def test_mask_email_keeps_first_char_and_domain(email: str, expected: str) -> None:
    assert mask_email(email) == expected


def test_mask_email_hides_the_local_part_length() -> None:
    assert mask_email("a@x.io") == mask_email("abcdefghij@x.io") == "a***@x.io"


@pytest.mark.parametrize("email", ["", "not-an-email", "ana.example.com"])
def test_mask_email_without_at_sign_is_fully_masked(email: str) -> None:
    assert mask_email(email) == "***"
