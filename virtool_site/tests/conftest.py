"""Fixtures of the site's own tests (users, uploads, storage)."""

import pytest


@pytest.fixture
def uploader(user_factory, client_for):
    """(user, client) of a user who may upload and remove files."""
    user = user_factory(upload_file=True, remove_file=True)
    return user, client_for(user)
