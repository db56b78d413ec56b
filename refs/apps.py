from django.apps import AppConfig


class RefsConfig(AppConfig):
    name = "refs"

    def ready(self):
        from refs import signals

        signals.connect()
