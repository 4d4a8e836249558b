"""The Supabase Storage half of the stand-in: the subset of the Storage API supabase-js and supabase-py use.

Routes (after `/storage/v1`), as supabase/storage's src/http/routes define them:
    GET    /bucket, /bucket/<id>                           buckets the caller may see (RLS on storage.buckets)
    POST   /object/<bucket>/<name>  (PUT = upsert)          upload: multipart (supabase-py, supabase-js Blob)
                                                             or a raw body (supabase-js Buffer); x-upsert
    GET    /object/authenticated/<bucket>/<name>            download, the caller's JWT required
    GET    /object/<bucket>/<name>                          download, an invalid or missing JWT is anon
    GET    /object/public/<bucket>/<name>                   only for a public bucket
    POST   /object/list/<bucket>                            storage.search() as the caller
    DELETE /object/<bucket>  {"prefixes": [...]}             remove, returns the removed rows
    DELETE /object/<bucket>/<name>                          remove one

Every database step runs as Storage's own does (src/internal/database/postgres/scope.ts): in a transaction
with `role`, `request.jwt.claims` (and the legacy per-claim settings) and `storage.allow_delete_query` set
for it, so the project's policies on storage.objects decide. What Storage does "as the super user" (read
the bucket, complete an upload) runs as service_role here (it bypasses RLS as the storage admin does).
An upload is checked first in a transaction that is rolled back (Storage's canUpload), then its bytes are
written to a new file named by a fresh version id (temp file, fsync, rename: a half upload never
replaces what was there), then the row is upserted with that version and the previous version's file is
removed. The bytes live beside the cluster's data directory (`<cluster>/storage/<database>/<version>`),
so a kept --data-dir keeps them and a throwaway cluster takes them with it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import uuid
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path

from psycopg import errors as pg_errors
from psycopg.rows import dict_row, tuple_row
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from standin import storage_errors as err
from standin import tokens

VALID_KEY = re.compile(r"^[A-Za-z0-9_/!.*'() &$=@;:+,?-]+$")  # src/storage/limits.ts VALID_OBJECT_KEY
GLOBAL_FILE_SIZE_LIMIT = 50 * 1024 * 1024  # Supabase's default upload limit
DEFAULT_MIME = "application/octet-stream"
SUPER = "service_role"  # what runs Storage's "as super user" steps here

_SCOPE = ("select set_config('role', %s, true), set_config('request.jwt.claim.role', %s, true),"
          " set_config('request.jwt.claim.sub', %s, true), set_config('request.jwt.claims', %s, true),"
          " set_config('storage.allow_delete_query', 'true', true),"
          " set_config('search_path', 'storage, public, extensions', true)")
_OBJECT_JSON = ("json_build_object('name', o.name, 'bucket_id', o.bucket_id, 'owner', o.owner, 'owner_id', o.owner_id,"
                " 'id', o.id, 'updated_at', o.updated_at, 'created_at', o.created_at,"
                " 'last_accessed_at', o.last_accessed_at, 'metadata', o.metadata, 'version', o.version,"
                " 'user_metadata', o.user_metadata)")
# As Storage's response schema renders a bucket (fast-json-stringify writes a null string as "").
_BUCKET_COLUMNS = ("id, name, coalesce(owner::text, '') as owner, coalesce(owner_id, '') as owner_id, public, type,"
                   " file_size_limit, allowed_mime_types, created_at, updated_at")


class Caller:
    """Who a request acts for: a verified JWT's role and claims, or anon."""

    def __init__(self, role: str = "anon", claims: dict | None = None, authenticated: bool = False):
        self.role, self.claims, self.authenticated = role, claims or {}, authenticated

    @property
    def sub(self) -> str:
        sub = self.claims.get("sub")
        return sub if isinstance(sub, str) else ""


async def storage_root(admin_pool) -> Path:
    """`<cluster dir>/storage/<database>`: beside the cluster's data directory (asked as the superuser)."""
    async with admin_pool.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)  # whatever rows the pool's connections make by default
        await cur.execute("select current_setting('data_directory'), current_database()")
        data_dir, database = await cur.fetchone()
    return Path(data_dir).parent / "storage" / database


class StorageApi:
    def __init__(self, pool, root: Path, jwt_secret: str, clock_skew: Callable[[], float]):
        self.pool, self.root, self.jwt_secret = pool, Path(root), jwt_secret
        self.clock_skew = clock_skew  # a callable: the gateway's current tolerance
        self.root.mkdir(parents=True, exist_ok=True)

    # -- identity --------------------------------------------------------------------------------
    def caller(self, request: Request, apikey: str | None, strict: bool) -> Caller:
        """Storage's JWT plugin: the bearer token (the gateway's fallback: the apikey). A missing or bad one is
        AccessDenied, or anon on the routes that allow it."""
        header = request.headers.get("authorization")
        token = re.sub(r"^Bearer\s+", "", header, flags=re.IGNORECASE) if header is not None else (apikey or "")
        try:
            claims = tokens.verify(token, self.jwt_secret, self.clock_skew())
        except tokens.JwtError as exc:
            if strict:
                raise err.access_denied(exc.message) from None
            return Caller()
        role = claims.get("role") if isinstance(claims.get("role"), str) else "anon"
        return Caller(role, claims, authenticated=True)

    # -- transactions ----------------------------------------------------------------------------
    async def run(self, caller: Caller, statement: str, params: list, *, rollback: bool = False) -> list[dict]:
        """One statement in Storage's per-request scope; its rows. `rollback`: a permission test only."""
        claims = json.dumps({**caller.claims, "role": caller.role})
        try:
            async with self.pool.connection() as conn, conn.transaction(force_rollback=rollback):
                await conn.execute(_SCOPE, [caller.role, caller.role, caller.sub, claims])
                cur = conn.cursor(row_factory=dict_row)
                await cur.execute(statement, params)
                return await cur.fetchall() if cur.description else []
        except pg_errors.Error as exc:
            raise err.from_postgres(exc) from None

    async def bucket(self, bucket_id: str) -> dict | None:
        rows = await self.run(Caller(SUPER), f"select {_BUCKET_COLUMNS} from storage.buckets where id = %s",
                              [bucket_id])
        return rows[0] if rows else None

    # -- routing ---------------------------------------------------------------------------------
    async def handle(self, request: Request, path: str, apikey: str | None) -> Response:
        try:
            return await self._route(request, path, apikey)
        except err.StorageError as exc:
            return exc.response()

    async def _route(self, request: Request, path: str, apikey: str | None) -> Response:
        method = request.method
        parts = path.strip("/").split("/", 1)
        head, rest = parts[0], parts[1] if len(parts) > 1 else ""
        if head == "bucket" and method == "GET":
            return await self.get_buckets(self.caller(request, apikey, True), rest)
        if head != "object" or not rest:
            raise err.not_found_route()
        first, _, tail = rest.partition("/")
        if method == "GET" and first in ("authenticated", "public"):
            bucket, _, name = tail.partition("/")
            if first == "public":
                return await self.download(Caller(), bucket, name, public_route=True)
            return await self.download(self.caller(request, apikey, True), bucket, name)
        if method == "POST" and first == "list":
            return await self.list(self.caller(request, apikey, True), tail, request)
        if method == "GET":
            return await self.download(self.caller(request, apikey, False), first, tail)
        if method in ("POST", "PUT") and tail:
            upsert = method == "PUT" or request.headers.get("x-upsert") == "true"
            return await self.upload(self.caller(request, apikey, True), first, tail, request, upsert)
        if method == "DELETE":
            caller = self.caller(request, apikey, True)
            return await (self.remove_one(caller, first, tail) if tail else self.remove(caller, first, request))
        raise err.not_found_route()

    # -- buckets ---------------------------------------------------------------------------------
    async def get_buckets(self, caller: Caller, bucket_id: str) -> Response:
        where, params = ("where id = %s", [bucket_id]) if bucket_id else ("", [])
        rows = await self.run(caller, f"select coalesce(json_agg(b order by b.name), '[]') as body from"
                              f" (select {_BUCKET_COLUMNS} from storage.buckets {where}) b", params)
        body = rows[0]["body"]
        if not bucket_id:
            return JSONResponse(body)
        if not body:
            raise err.no_such_bucket()
        return JSONResponse(body[0])

    # -- upload ----------------------------------------------------------------------------------
    async def upload(self, caller: Caller, bucket_id: str, name: str, request: Request, upsert: bool) -> Response:
        if not VALID_KEY.match(name) or any(part in (".", "..") for part in name.split("/")):
            raise err.invalid_key(name)
        bucket = await self.bucket(bucket_id)
        if bucket is None:
            raise err.no_such_bucket()
        data, mime, cache_control, user_metadata = await _body(request)
        limit = min(bucket["file_size_limit"] or GLOBAL_FILE_SIZE_LIMIT, GLOBAL_FILE_SIZE_LIMIT)
        if len(data) > limit:
            raise err.entity_too_large()
        allowed = bucket["allowed_mime_types"] or []
        if allowed and not any(_mime_matches(mime, pattern) for pattern in allowed):
            raise err.invalid_mime_type(mime)
        owner = caller.sub or None
        probe = {"mimetype": mime, "contentLength": len(data)}
        # canUpload: the caller's INSERT (or upsert) of the row, rolled back — RLS and duplicates decide.
        try:
            await self.run(caller, _upsert_sql(upsert), _row_params(bucket_id, name, owner, probe, user_metadata,
                                                                     "1"), rollback=True)
        except err.StorageError as exc:
            if exc.code == "ResourceAlreadyExists":
                raise err.key_already_exists() from None
            raise
        version = str(uuid.uuid4())
        metadata = self._store(version, data, mime, cache_control)
        try:
            rows = await self.run(Caller(SUPER), "select version from storage.objects where bucket_id = %s"
                                  " and name = %s for update", [bucket_id, name])
            previous = rows[0]["version"] if rows else None
            stored = await self.run(Caller(SUPER), _upsert_sql(True) + " returning id",
                                    _row_params(bucket_id, name, owner, metadata, user_metadata, version))
        except BaseException:
            self._unlink(version)
            raise
        if previous and previous != version:
            self._unlink(previous)
        return JSONResponse({"Id": str(stored[0]["id"]), "Key": f"{bucket_id}/{name}"})

    def _store(self, version: str, data: bytes, mime: str, cache_control: str) -> dict:
        """The bytes under their version id: written to a temp file, synced, renamed into place."""
        target = self.root / version
        temp = self.root / f".{version}.part"
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, target)
        return {"eTag": f'"{hashlib.md5(data).hexdigest()}"', "size": len(data), "mimetype": mime,  # noqa: S324
                "cacheControl": cache_control, "lastModified": formatdate(usegmt=True),
                "contentLength": len(data), "httpStatusCode": 200}

    def _unlink(self, version: str | None) -> None:
        if version and re.fullmatch(r"[0-9a-f-]{36}", version):
            with contextlib.suppress(FileNotFoundError):
                (self.root / version).unlink()

    # -- download --------------------------------------------------------------------------------
    async def download(self, caller: Caller, bucket_id: str, name: str, public_route: bool = False) -> Response:
        bucket = await self.bucket(bucket_id)
        if bucket is None or ((public_route or not caller.authenticated) and not bucket["public"]):
            raise err.no_such_bucket()
        reader = Caller(SUPER) if bucket["public"] else caller
        rows = await self.run(reader, "select version, metadata from storage.objects where bucket_id = %s"
                              " and name = %s", [bucket_id, name])
        if not rows or not rows[0]["version"] or not (self.root / rows[0]["version"]).exists():
            raise err.no_such_key()
        metadata = rows[0]["metadata"] or {}
        headers = {"Cache-Control": str(metadata.get("cacheControl") or "no-cache"),
                   "ETag": str(metadata.get("eTag") or ""), "Accept-Ranges": "bytes"}
        return FileResponse(self.root / rows[0]["version"], media_type=str(metadata.get("mimetype") or DEFAULT_MIME),
                            headers=headers)

    # -- list ------------------------------------------------------------------------------------
    async def list(self, caller: Caller, bucket_id: str, request: Request) -> Response:
        body = await _json_body(request)
        prefix = body.get("prefix")
        if not isinstance(prefix, str):
            raise err.invalid_request("body must have required property 'prefix'")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        limit, offset = body.get("limit") or 100, body.get("offset") or 0
        sort = body.get("sortBy") if isinstance(body.get("sortBy"), dict) else {}
        search = body.get("search") if isinstance(body.get("search"), str) else ""
        if not isinstance(limit, int) or not isinstance(offset, int) or limit < 1 or offset < 0:
            raise err.invalid_request("limit and offset must be integers (limit >= 1, offset >= 0)")
        rows = await self.run(caller, "select coalesce(json_agg(s), '[]') as body from storage.search(%s, %s, %s, %s,"
                              " %s, %s, %s, %s) s",
                              [prefix, bucket_id, limit, len((prefix + search).split("/")), offset, search,
                               str(sort.get("column") or "name"), str(sort.get("order") or "asc")])
        return JSONResponse(rows[0]["body"])

    # -- remove ----------------------------------------------------------------------------------
    async def remove(self, caller: Caller, bucket_id: str, request: Request) -> Response:
        body = await _json_body(request)
        prefixes = body.get("prefixes")
        if not isinstance(prefixes, list) or not prefixes or not all(isinstance(p, str) for p in prefixes):
            raise err.invalid_request("body/prefixes must be a non-empty array of strings")
        if len(prefixes) > 1000:
            raise err.invalid_request("Maximum number of prefixes is 1000")
        rows = await self.run(caller, f"delete from storage.objects o where o.bucket_id = %s and o.name = any(%s)"
                              f" returning o.version, {_OBJECT_JSON} as object", [bucket_id, prefixes])
        for row in rows:
            self._unlink(row["version"])
        return JSONResponse([row["object"] for row in rows])

    async def remove_one(self, caller: Caller, bucket_id: str, name: str) -> Response:
        if not await self.run(Caller(SUPER), "select 1 from storage.objects where bucket_id = %s and name = %s",
                              [bucket_id, name]):
            raise err.no_such_key()
        rows = await self.run(caller, "delete from storage.objects where bucket_id = %s and name = %s"
                              " returning version", [bucket_id, name])
        if not rows:
            raise err.access_denied()
        self._unlink(rows[0]["version"])
        return JSONResponse({"message": "Successfully deleted"})


def _upsert_sql(upsert: bool) -> str:
    insert = ("insert into storage.objects (bucket_id, name, owner, owner_id, metadata, user_metadata, version)"
              " values (%s, %s, %s, %s, %s, %s, %s)")
    if not upsert:
        return insert
    return (insert + " on conflict (name, bucket_id) do update set metadata = excluded.metadata,"
            " user_metadata = excluded.user_metadata, version = excluded.version, owner = excluded.owner,"
            " owner_id = excluded.owner_id")


def _row_params(bucket_id: str, name: str, owner: str | None, metadata: dict, user_metadata, version: str) -> list:
    owner_uuid = owner if owner and re.fullmatch(r"[0-9a-fA-F-]{36}", owner) else None
    return [bucket_id, name, owner_uuid, owner, json.dumps(metadata),
            None if user_metadata is None else json.dumps(user_metadata), version]


def _mime_matches(mime: str, pattern: str) -> bool:
    if pattern.endswith("/*"):
        return mime.split("/", 1)[0] == pattern[:-2]
    return mime.split(";", 1)[0].strip() == pattern


async def _json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        raise err.invalid_request("Body is not valid JSON") from None
    if not isinstance(body, dict):
        raise err.invalid_request("body must be object")
    return body


async def _body(request: Request) -> tuple[bytes, str, str, dict | None]:
    """(bytes, MIME type, cache-control, user metadata) of an upload, as Storage's fileUploadFromRequest
    reads a multipart form (the first file; fields cacheControl, contentType, metadata) or a raw body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        try:
            form = await request.form(max_files=1, max_fields=10)
        except Exception as exc:  # noqa: BLE001 - a malformed form is the client's error
            raise err.invalid_request(f"the multipart body cannot be read: {exc}") from None
        files = [value for _, value in form.multi_items() if hasattr(value, "read")]
        if not files:
            raise err.invalid_request("No file was uploaded")
        upload = files[0]
        data = await upload.read()
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
        mime = fields.get("contentType") or upload.content_type or DEFAULT_MIME
        cache = fields.get("cacheControl")
        metadata = _user_metadata(fields.get("metadata") or fields.get("userMetadata"))
        return data, mime, f"max-age={cache}" if cache else "no-cache", metadata
    data = await request.body()
    raw_metadata = request.headers.get("x-metadata")
    if raw_metadata:
        import base64

        try:
            raw_metadata = base64.b64decode(raw_metadata).decode("utf-8")
        except ValueError:
            raise err.invalid_request("x-metadata is not base64") from None
    return (data, content_type or DEFAULT_MIME, request.headers.get("cache-control") or "no-cache",
            _user_metadata(raw_metadata))


def _user_metadata(text: str | None) -> dict | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        raise err.invalid_request("metadata is not valid JSON") from None
    if not isinstance(value, dict):
        raise err.invalid_request("metadata must be a JSON object")
    return value
