from django.apps import AppConfig


class VirtoolSiteConfig(AppConfig):
    name = "virtool_site"
    verbose_name = "Site: users, keys, processes, jobs, uploads"

    def ready(self):
        from virtool_site.api import schema_extensions  # noqa: F401 (registers the extensions)
