"""The analyses app: samples, analyses, analysis files, NuVs BLAST; its stored files are
registered with the storage sweep."""

from django.apps import AppConfig


class AnalysesConfig(AppConfig):
    name = "analyses"

    def ready(self):
        from analyses.blast import blast_keys_live
        from analyses.selectors import analysis_file_keys_live
        from virtool_site.storage_sweep import stored_owner_register

        stored_owner_register("analyses", analysis_file_keys_live)
        stored_owner_register("blast", blast_keys_live)
