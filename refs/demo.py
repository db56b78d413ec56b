"""The demo reference `make run` loads once: 33 OTUs of the real plant-virus reference.

`refs/demo/reference.json.gz` is a subset of github.com/virtool/ref-plant-viruses (MIT
licence) at commit 9712edf9, in Virtool's reference file format, imported through the same
service as every other import.
"""

from pathlib import Path

from refs.models import Reference

DEMO_FILE = Path(__file__).resolve().parent / "demo" / "reference.json.gz"
DEMO_NAME = "Plant Viruses (demo)"


def demo_reference_load(*, user) -> Reference | None:
    """Import the demo reference for `user`, unless a reference of that name exists."""
    from refs.services import reference_import_path

    if Reference.objects.filter(name__iexact=DEMO_NAME).exists():
        return None
    return reference_import_path(
        user=user,
        path=DEMO_FILE,
        name=DEMO_NAME,
        description="A small part of Virtool's plant-virus reference, loaded as demo data.",
        organism="virus",
        public=True,
    )
