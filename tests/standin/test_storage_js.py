"""The official supabase-js Storage client (npm, installed once into a cached folder, as bench/bench_sync.py
installs RxDB) against the stand-in: uploads as a raw body (a Buffer) and as multipart (a Blob), a second
upload refused without upsert, downloads, list, the bucket, another user refused, the public URL of the
private bucket refused, and remove."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def storage_js(supabase_js_folder) -> Path:
    """The shared supabase-js folder (tests/standin/conftest.py) with this test's probe script."""
    shutil.copy(HERE / "storage_js_probe.mjs", supabase_js_folder / "storage_js_probe.mjs")
    return supabase_js_folder


def test_supabase_js_storage_against_the_standin(supabase_stack, storage_js):
    email_a, password_a, user_a = supabase_stack.new_user()
    email_b, password_b, _ = supabase_stack.new_user()
    done = subprocess.run(["node", "storage_js_probe.mjs", supabase_stack.url, supabase_stack.anon_key, email_a,
                           password_a, email_b, password_b], cwd=storage_js, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    raw_path, form_path = sorted(out["paths"], key=lambda p: p != out["uploadRaw"]["data"]["path"])
    assert out["uploadRaw"]["error"] is None and out["uploadBlob"]["error"] is None
    assert out["uploadRaw"]["data"]["fullPath"] == f"attachments/{raw_path}"
    assert out["uploadBlob"]["data"]["path"] == form_path
    assert out["uploadAgain"] == {"status": 400, "statusCode": "409", "message": "The resource already exists"}
    assert out["upsert"] is None
    assert out["downloadRaw"] is True and out["downloadBlob"] is True
    assert out["list"] == sorted(p.split("/")[1] for p in out["paths"])
    assert out["bucket"] == {"id": "attachments", "public": False}
    assert out["otherDownload"] == {"status": 400, "statusCode": "404", "message": "Object not found"}
    assert out["otherUpload"] == {"status": 400, "statusCode": "403",
                                  "message": "new row violates row-level security policy"}
    assert out["otherRemove"] == []
    assert out["publicUrl"] == {"status": 400, "body": {"statusCode": "404", "code": "NoSuchBucket",
                                                         "error": "Bucket not found", "message": "Bucket not found"}}
    assert out["remove"] == sorted(out["paths"])
    assert out["afterRemove"]["statusCode"] == "404"
    assert all(p.startswith(f"{user_a}/") for p in out["paths"])
