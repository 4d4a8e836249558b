"""Signed-in official clients for the stand-in's fidelity tests."""

from __future__ import annotations

import pytest


class User:
    def __init__(self, stack):
        self.email, self.password, self.id = stack.new_user()
        self.client = stack.client()
        self.session = self.client.auth.sign_in_with_password({"email": self.email, "password": self.password}).session

    @property
    def token(self) -> str:
        return self.session.access_token


@pytest.fixture
def alice(supabase_stack) -> User:
    return User(supabase_stack)


@pytest.fixture
def bob(supabase_stack) -> User:
    return User(supabase_stack)


@pytest.fixture
def scratch_table(supabase_stack):
    """A table API users may hard-delete from (the real schema refuses DELETE), with own-row RLS."""
    import uuid

    import psycopg

    name = f"scratch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
        conn.execute(f"""
            create table public.{name} (id int primary key, note text,
                user_id uuid not null default auth.uid() references auth.users(id) on delete cascade);
            alter table public.{name} enable row level security;
            create policy own on public.{name} for all to authenticated
                using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
            grant select, insert, update, delete on public.{name} to authenticated;
        """)
    yield name
    with psycopg.connect(supabase_stack.db_url, autocommit=True) as conn:
        conn.execute(f"drop table public.{name}")
