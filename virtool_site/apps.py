from django.apps import AppConfig


class VirtoolSiteConfig(AppConfig):
    name = "virtool_site"
    verbose_name = "Site: users, keys, processes, jobs, uploads"

    def ready(self):
        from virtool_site import signals
        from virtool_site.api import schema_extensions  # noqa: F401 (registers the extensions)
        from virtool_site.selectors import upload_keys_live
        from virtool_site.storage_sweep import stored_owner_register

        stored_owner_register("uploads", upload_keys_live)
        signals.connect()
