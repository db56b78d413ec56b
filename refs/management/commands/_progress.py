"""A tqdm progress bar per step of a reference process (virtool_site.processes.Progress), and
the user a command acts as and the name it gives a new reference, for the commands."""

from tqdm import tqdm

from virtool_site.processes import Progress


class TqdmProgress(Progress):
    def __init__(self, stream, *, disable: bool = False):
        self.stream = stream
        self.disable = disable
        self.bar = None

    def step(self, name):
        self.close()
        self.bar = tqdm(total=100, desc=f"{name:<14}", unit="%", file=self.stream, disable=self.disable,
                        bar_format="{desc} {bar} {percentage:3.0f}% {elapsed}")

    def fraction(self, value):
        if self.bar is not None:
            self.bar.n = max(self.bar.n, int(min(max(value, 0.0), 1.0) * 100))
            self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.n = 100
            self.bar.close()
            self.bar = None


def command_user(username: str | None):
    """The user a command acts as: `--user`, or the first administrator."""
    from django.core.management.base import CommandError

    from virtool_site.models import User

    if username:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}")
        return user
    user = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    if user is None:
        raise CommandError("No administrator exists: pass --user USERNAME")
    return user


def command_reference_name(name) -> str:
    """`--name` of a new reference, held to what POST /api/refs takes (not blank, at most 255
    characters, no NUL), so a bad name is a CommandError rather than a database error."""
    from django.core.management.base import CommandError
    from rest_framework import serializers

    from refs.api.serializers import ReferenceCreateSerializer

    try:
        return ReferenceCreateSerializer().fields["name"].run_validation(name)
    except serializers.ValidationError as error:
        raise CommandError(f"Invalid --name: {' '.join(str(m) for m in error.detail)}") from None
