"""Two signed-in users, each an ApiSession acting as PostgREST would for them."""

from __future__ import annotations

import pytest


@pytest.fixture
def alice(make_user, as_user):
    return as_user(make_user("alice@example.test"))


@pytest.fixture
def bob(make_user, as_user):
    return as_user(make_user("bob@example.test"))
