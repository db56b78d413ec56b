import factory
from django.contrib.auth.models import Group

from virtool_site.models import GroupPermissions, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery")
    is_active = True


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"group{n}")

    @factory.post_generation
    def flags(group, create, extracted, **kwargs):
        if create:
            GroupPermissions.objects.create(group=group, **(extracted or {}))
