"""Admin for references and OTUs, built on the same services as the API.

What lives where:

- refs.admin_reference: ReferenceAdmin, the list, the settings form (`reference_edit`).
- refs.admin_rights: the user and group rights inlines (`reference_{user,group}_*`).
- refs.admin_reference_actions: "Build index", "Export reference file", "Clone" and "Delete",
  through the functions the API views call.
- refs.admin_otu_list: OTUAdmin, the OTU list and removal through `otu_remove`.
- refs.admin_otu and refs.admin_forms: the one-page OTU editor, whose every submit is one
  `refs.services` call.
- refs.admin_support: what every curation admin shares (who curates what, links, messages).
"""

from django.contrib import admin

from refs.admin_otu_list import OTUAdmin
from refs.admin_reference import ReferenceAdmin
from refs.models import OTU, Reference

admin.site.register(Reference, ReferenceAdmin)
admin.site.register(OTU, OTUAdmin)

__all__ = ["OTUAdmin", "ReferenceAdmin"]
