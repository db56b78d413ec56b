"""The indexes app: index builds and their files; its stored files are registered with the
storage sweep."""

from django.apps import AppConfig


class IndexesConfig(AppConfig):
    name = "indexes"

    def ready(self):
        from indexes.selectors import index_keys_live
        from virtool_site.storage_sweep import stored_owner_register

        stored_owner_register("references", index_keys_live)
