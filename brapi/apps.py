from django.apps import AppConfig


class BrapiConfig(AppConfig):
    name = "brapi"
