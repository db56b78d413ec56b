"""manage.py create_api_key USERNAME [--name LABEL]: an API key, printed once."""

from django.core.management.base import BaseCommand, CommandError

from virtool_site.models import ApiKey, User
from virtool_site.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key for USERNAME. The key is printed alone on the last line, once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label for the key")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username}")
        limit = ApiKey._meta.get_field("name").max_length
        if len(name) > limit:
            raise CommandError(f"--name may have at most {limit} characters")
        api_key, secret = api_key_create(user=user, name=name)
        self.stdout.write(f"Created API key {api_key.id} ({api_key.name}) for {username}. It is not shown again:")
        self.stdout.write(secret)
