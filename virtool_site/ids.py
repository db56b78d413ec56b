"""Virtool ids: 8 random lowercase alphanumeric characters (`wvymfspm`)."""

import secrets
import string

from django.db import models

ID_ALPHABET = string.ascii_lowercase + string.digits
ID_LENGTH = 8


def random_id() -> str:
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


class IdField(models.CharField):
    """Primary key holding a Virtool id, generated on first save."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", ID_LENGTH)
        kwargs.setdefault("primary_key", True)
        kwargs.setdefault("default", random_id)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)
