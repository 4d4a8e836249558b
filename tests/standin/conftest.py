"""Signed-in official clients for the stand-in's fidelity tests, and the official supabase-js (npm)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

NPM_PACKAGES = ("@supabase/supabase-js@2", "ws@8")
NPM_CACHE = Path(os.environ.get("MIRARI_NPM_CACHE", Path.home() / ".cache" / "mirari-npm")) / "supabase-js"


@pytest.fixture(scope="session")
def supabase_js_folder() -> Path:
    """A folder with supabase-js and ws installed (once per machine, kept for later runs); each test copies
    its probe script into it. Skipped where node or npm is missing or cannot install."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run the official supabase-js client")
    if not (NPM_CACHE / "node_modules" / "@supabase" / "supabase-js").exists():
        NPM_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "init", "-y"], cwd=NPM_CACHE, check=True, capture_output=True)
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", *NPM_PACKAGES], cwd=NPM_CACHE,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.skip(f"npm could not install supabase-js here: {done.stderr.strip()[-300:]}")
    return NPM_CACHE


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
