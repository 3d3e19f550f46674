from __future__ import annotations

import random
import string
from collections import Counter

import pytest

from provisioner.passwords import check_policy, generate, mail_nickname


def test_a_thousand_generated_passwords_pass_the_policy_with_all_four_classes():
    for _ in range(1000):
        password = generate()
        assert len(password) == 20
        assert check_policy(password) is None
        assert any(c.islower() for c in password)
        assert any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)
        assert any(not c.isalnum() for c in password)
        assert password.isascii()


def test_generated_passwords_differ_and_lengths_are_bounded():
    assert len({generate() for _ in range(100)}) == 100
    assert len(generate(8)) == 8
    with pytest.raises(ValueError):
        generate(7)


def test_one_random_draw_per_password(monkeypatch):
    # secrets draws through random.SystemRandom, which reads the system source via random._urandom.
    calls = []
    real = random._urandom

    def counted(n: int) -> bytes:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(random, "_urandom", counted)
    generate()
    generate(256)
    assert len(calls) == 2


def test_every_position_and_character_class_varies():
    passwords = [generate() for _ in range(2000)]
    for position in range(20):
        assert len({p[position] for p in passwords}) > 30
    counts = Counter("".join(passwords))
    # 40,000 characters: every one of the 80 is drawn, none wildly more than its share (~500).
    assert set(counts) == set(string.ascii_letters + string.digits + "@#%^*-_!+=[]{}:.?~")
    assert max(counts.values()) < 2 * min(counts.values())


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1!", "the password is too short: at least 8 characters are required"),
        ("a" * 257, "the password is too long: at most 256 characters are allowed"),
        ("abcdefgh", "the password needs at least 3 of these 4: lowercase letters, uppercase letters, digits, symbols"),
        ("abcdEFGH", "the password needs at least 3 of these 4: lowercase letters, uppercase letters, digits, symbols"),
        ("Passwört1!", "the password contains a character the policy does not allow (Unicode or a control character)"),
        ("abcdEFG1", None),
        ("abcd efg1", None),
        ("abcd#efG", None),
    ],
)
def test_check_policy(password, reason):
    assert check_policy(password) == reason


@pytest.mark.parametrize(
    ("upn", "nickname"),
    [
        ("alice@contoso.com", "alice"),
        ("o'brien.j@contoso.com", "o'brien.j"),
        (".dot.@contoso.com", "dot"),
        ("a" * 70 + "@contoso.com", "a" * 64),
        ("@contoso.com", "user"),
    ],
)
def test_mail_nickname(upn, nickname):
    assert mail_nickname(upn) == nickname
