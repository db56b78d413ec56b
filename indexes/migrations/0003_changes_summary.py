"""The summary of an index's changes, stored in its row (Index.changed_otus, the counts, the
authors), and written for the indexes that exist (as indexes.selectors.index_changes_summary does)."""

import orjson
from django.db import migrations, models


def summaries_write(apps, schema_editor):
    Index = apps.get_model("indexes", "Index")
    Change = apps.get_model("history", "Change")
    for index_id, manifest in Index.objects.filter(changed_otus__isnull=True).values_list("id", "manifest").iterator():
        otus, authors = {}, {}
        changes = Change.objects.filter(index_id=index_id).values_list("otu_id", "otu_name", "otu_version", "user_id")
        for otu_id, name, version, user_pk in changes.iterator():
            if user_pk is not None:
                authors[user_pk] = authors.get(user_pk, 0) + 1
            entry = otus.get(otu_id)
            if entry is None:
                otus[otu_id] = [name.lower(), otu_id, name, version, 1]
            else:
                entry[4] += 1
                if version > entry[3]:
                    entry[0], entry[2], entry[3] = name.lower(), name, version
        documents = [
            {"id": otu_id, "name": name, "version": (manifest or {}).get(otu_id, version), "change_count": count}
            for _, otu_id, name, version, count in sorted(otus.values())
        ]
        Index.objects.filter(id=index_id).update(
            changed_otus=orjson.dumps(documents).decode(),
            change_count=sum(entry[4] for entry in otus.values()),
            modified_otu_count=len(otus),
            contributor_counts=[[user_pk, count] for user_pk, count in sorted(authors.items())],
        )


class Migration(migrations.Migration):

    dependencies = [
        ("indexes", "0002_initial"),
        ("history", "0004_change_list_order_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="index",
            name="change_count",
            field=models.IntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="index",
            name="changed_otus",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="index",
            name="modified_otu_count",
            field=models.IntegerField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="index",
            name="contributor_counts",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(summaries_write, migrations.RunPython.noop),
    ]
