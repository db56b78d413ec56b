from django.apps import AppConfig


class VirtoolSiteConfig(AppConfig):
    name = "virtool_site"
    verbose_name = "Site: users, keys, processes, jobs, uploads"
