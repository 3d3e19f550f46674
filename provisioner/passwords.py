"""Initial passwords and mail nicknames for new users.

The cloud password policy (Entra, for cloud-only users): 8 to 256 characters, at least three of
lowercase, uppercase, digits and symbols, and no Unicode characters. Generated passwords carry all
four classes, so they pass whichever three a tenant's policy counts.
"""

from __future__ import annotations

import re
import secrets
import string

MIN_LENGTH = 8
MAX_LENGTH = 256
# The symbols the cloud policy lists, blank space included.
SYMBOLS = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> "
# Generated passwords avoid the blank and the characters a shell or a CSV mangles, so the admin
# can paste them anywhere; they still come from the policy's own list.
_GENERATED_SYMBOLS = "@#%^*-_!+=[]{}:.?~"
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _GENERATED_SYMBOLS)

MAIL_NICKNAME_MAX = 64
_NICKNAME_FORBIDDEN = re.compile(r'[@()\\\[\]";:<>, ]')


def generate(length: int = 20) -> str:
    """A random password that satisfies the cloud password policy, with all four classes.

    ``secrets`` draws every character; one character of each class is placed first and the whole
    is shuffled, so no position is predictable.
    """
    if not MIN_LENGTH <= length <= MAX_LENGTH:
        raise ValueError(f"password length must be between {MIN_LENGTH} and {MAX_LENGTH}, not {length}")
    alphabet = "".join(_CLASSES)
    chars = [secrets.choice(cls) for cls in _CLASSES]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    # Fisher-Yates with the secrets generator (random.shuffle would use a non-cryptographic one).
    for i in range(len(chars) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def check_policy(password: str) -> str | None:
    """Why ``password`` fails the cloud password policy, or None when it passes.

    The reason never quotes the password. The tenant's banned-password list is not known here, so
    a password that passes can still be refused by Entra.
    """
    if len(password) < MIN_LENGTH:
        return f"the password is too short: at least {MIN_LENGTH} characters are required"
    if len(password) > MAX_LENGTH:
        return f"the password is too long: at most {MAX_LENGTH} characters are allowed"
    if any(not (c.isascii() and (c.isalnum() or c in SYMBOLS)) for c in password):
        return "the password contains a character the policy does not allow (Unicode or a control character)"
    classes = (
        any(c in string.ascii_lowercase for c in password),
        any(c in string.ascii_uppercase for c in password),
        any(c in string.digits for c in password),
        any(c in SYMBOLS for c in password),
    )
    if sum(classes) < 3:
        return (
            "the password needs at least 3 of these 4: lowercase letters, uppercase letters, digits, symbols"
        )
    return None


def mail_nickname(upn: str) -> str:
    """A ``mailNickname`` derived from the UPN's local part.

    Graph refuses ``@ ( ) \\ [ ] " ; : < > ,`` and spaces in a mail nickname and allows at most
    64 characters; Exchange also refuses a leading or trailing period.
    """
    local = upn.rsplit("@", 1)[0]
    nickname = _NICKNAME_FORBIDDEN.sub("", local)
    nickname = "".join(c for c in nickname if c.isascii() and c.isprintable())
    nickname = nickname[:MAIL_NICKNAME_MAX].strip(".")
    return nickname or "user"
