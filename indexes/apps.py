from django.apps import AppConfig


class IndexesConfig(AppConfig):
    name = "indexes"
