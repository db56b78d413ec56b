"""manage.py setup_demo: prepare a fresh installation, an administrator and (once) the demo
reference (refs.demo).

The administrator's password comes from ADMIN_PASSWORD or is generated and printed.
"""

import os
import secrets

from django.core.management.base import BaseCommand

from refs.demo import demo_reference_load
from virtool_site.models import User


class Command(BaseCommand):
    help = "Create the administrator account and load the demo reference once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default=os.environ.get("ADMIN_USERNAME", "admin"))
        parser.add_argument("--skip-reference", action="store_true", help="Do not load the demo reference.")

    def handle(self, *args, username, skip_reference, **options):
        admin = User.objects.filter(username=username).first()
        if admin is None:
            password = os.environ.get("ADMIN_PASSWORD") or secrets.token_urlsafe(12)
            admin = User.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(self.style.SUCCESS(f"Administrator '{username}' created with password: {password}"))
        else:
            self.stdout.write(f"Administrator '{username}' exists; password unchanged.")
        if not skip_reference:
            self.load_demo_reference(admin)

    def load_demo_reference(self, admin):
        reference = demo_reference_load(user=admin)
        if reference is not None:
            self.stdout.write(self.style.SUCCESS(f"Demo reference loaded: {reference.name} ({reference.id})"))
