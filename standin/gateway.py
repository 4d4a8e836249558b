"""The HTTP front of the stand-in: Kong's apikey check, fault injection, routing to Auth and PostgREST.

Order per request: fault delay → injected failure (before any DB work) → apikey → JWT → handler, which
runs with a watch on the client: if the client goes away mid-request the handler is cancelled and its
transaction rolled back, never left open. After the handler (its transaction committed) a
`drop_response_after_commit` fault aborts the TCP connection so the client sees a network error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from uvicorn.protocols.http.h11_impl import H11Protocol

from standin import tokens
from standin.faults import Faults
from standin.gotrue import AuthApi
from standin.rest_api import RestApi
from standin.rest_errors import RestError

logger = logging.getLogger(__name__)
_TRANSPORTS: dict[tuple, asyncio.Transport] = {}  # client (host, port) → its TCP transport


class _Tracking:
    """Mixed into uvicorn's HTTP protocol: remembers each connection's transport so a fault can abort it."""

    client: tuple | None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        if self.client:
            _TRANSPORTS[self.client] = transport

    def connection_lost(self, exc) -> None:
        _TRANSPORTS.pop(self.client, None)
        super().connection_lost(exc)  # type: ignore[misc]


class TrackingH11Protocol(_Tracking, H11Protocol):
    """uvicorn's pure-Python h11 protocol (the fallback)."""


try:  # httptools (C) parses and frames HTTP for a fraction of h11's CPU per request
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class TrackingHttpToolsProtocol(_Tracking, HttpToolsProtocol):
        """uvicorn's httptools protocol."""

    HTTP_PROTOCOL: type = TrackingHttpToolsProtocol
except ImportError:  # pragma: no cover - httptools is in the dev extra
    HTTP_PROTOCOL = TrackingH11Protocol


class _Abort(Response):
    """No response at all: the connection is reset after the work was done."""

    def __init__(self, client: tuple | None):
        super().__init__(b"")
        self.client = client

    async def __call__(self, scope, receive, send) -> None:
        transport = _TRANSPORTS.get(tuple(self.client)) if self.client else None
        if transport is not None:
            transport.abort()
        for _ in range(3):  # let uvicorn notice the lost connection before it could answer for us
            await asyncio.sleep(0)


class _Gone(Response):
    """The client disconnected; there is nobody to answer."""

    def __init__(self):
        super().__init__(b"")

    async def __call__(self, scope, receive, send) -> None:
        return None


def _unexpected(path: str) -> Response:
    """A 500 in the shape of the service that failed, with no Python or SQL text in it."""
    if path.startswith("/auth/v1/"):
        return JSONResponse({"code": 500, "error_code": "unexpected_failure",
                             "msg": "Unexpected failure, please check server logs for more information"}, 500)
    return RestError(500, "PGRST000", "Internal stand-in error; the stand-in's log has the details").response()


def _gateway_error(message: str, hint: str) -> Response:
    return JSONResponse({"message": message, "hint": hint}, 401)


class Gateway:
    storage = None  # the Storage API (storage_api.StorageApi), made on first use

    def __init__(self, rest: RestApi, auth: AuthApi, jwt_secret: str, anon_key: str, service_role_key: str,
                 faults: Faults, realtime=None):
        self.rest, self.auth, self.faults, self.realtime = rest, auth, faults, realtime
        self.jwt_secret, self.keys = jwt_secret, {anon_key, service_role_key}
        self.service_role_key = service_role_key
        self.clock_skew = tokens.CLOCK_SKEW
        self.http_requests = 0  # every HTTP request but the stats' own (benchmarks count a client's)

    def app(self) -> Starlette:
        methods = ["GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"]
        routes = [Route("/standin/v1/stats", self.stats, methods=["GET"]),
                  Route("/{path:path}", self.dispatch, methods=methods)]
        if self.realtime is not None:  # Realtime's socket (standin/realtime.py)
            routes.insert(0, WebSocketRoute("/realtime/v1/websocket", self.realtime.endpoint))
        return Starlette(routes=routes)

    async def stats(self, request: Request) -> Response:
        """The stand-in's own counters, for benchmarks (service_role key only): HTTP requests served and
        Realtime's sockets, frames, heartbeats, joins and deliveries."""
        if (request.headers.get("apikey") or request.query_params.get("apikey")) != self.service_role_key:
            return _gateway_error("Invalid API key", "The stand-in's stats need the service_role key.")
        realtime = dict(self.realtime.stats) if self.realtime is not None else {}
        if self.realtime is not None:
            realtime["open_sockets"] = len(self.realtime.sockets)
        return JSONResponse({"http_requests": self.http_requests, "realtime": realtime})

    async def dispatch(self, request: Request) -> Response:
        path, method = request.url.path, request.method
        self.http_requests += 1
        rule = self.faults.take("delay", method, path)
        if rule is not None:
            await asyncio.sleep(rule.seconds)
        rule = self.faults.take("fail", method, path)
        if rule is not None:
            body = rule.body if isinstance(rule.body, bytes | str) else json.dumps(rule.body)
            return Response(body, rule.status, headers=rule.headers, media_type="application/json")
        apikey = request.headers.get("apikey") or request.query_params.get("apikey")
        if not apikey and not path.startswith("/storage/v1/object/public/"):  # public objects need no key
            return _gateway_error("No API key found in request", "No `apikey` request header or url param was found.")
        if apikey and apikey not in self.keys:
            return _gateway_error("Invalid API key", "Double check your Supabase `anon` or `service_role` API key.")
        await request.body()  # read the body first: afterwards receive() only reports a disconnect
        work = asyncio.ensure_future(self._route(request, path, apikey))
        watch = asyncio.ensure_future(request.receive())
        done, _ = await asyncio.wait({work, watch}, return_when=asyncio.FIRST_COMPLETED)
        if work not in done:
            work.cancel()  # psycopg cancels the query server-side; the pool rolls the connection back
            with contextlib.suppress(BaseException):
                await work
            return _Gone()
        watch.cancel()
        try:
            response = work.result()
        except Exception:  # a bug in the stand-in: the trace goes to the log, never into the answer
            logger.exception("stand-in failed on %s %s", method, path)
            response = _unexpected(path)
        if self.faults.take("drop", method, path) is not None:
            return _Abort(request.scope.get("client"))
        return response

    async def _route(self, request: Request, path: str, apikey: str) -> Response:
        if path.startswith("/auth/v1/"):
            if "authorization" not in request.headers:  # Kong: Authorization falls back to the apikey
                request.scope["headers"] = [*request.scope["headers"], (b"authorization", f"Bearer {apikey}".encode())]
                request.__dict__.pop("_headers", None)
            return await self.auth.handle(request, path[len("/auth/v1"):])
        if path.startswith("/rest/v1/"):
            try:
                role, claims = self._identity(request, apikey)
                return await self.rest.handle(request, role, claims, path[len("/rest/v1"):])
            except RestError as err:
                return err.response()
        if path.startswith("/storage/v1/"):  # standin/storage_api.py
            return await (await self._storage()).handle(request, path[len("/storage/v1"):], apikey)
        return JSONResponse({"message": "no Route matched with those values"}, 404)

    async def _storage(self):
        """The Storage API, made on its first request (its bytes go beside the cluster's data directory)."""
        if self.storage is None:
            from standin.storage_api import StorageApi, storage_root

            root = await storage_root(self.auth.pool)
            self.storage = StorageApi(self.rest.pool, root, self.jwt_secret, lambda: self.clock_skew)
        return self.storage

    def _identity(self, request: Request, apikey: str) -> tuple[str, dict]:
        """As PostgREST: the Authorization bearer (else the apikey) decides role and claims."""
        header = request.headers.get("authorization")
        token = apikey
        if header is not None:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer":
                return "anon", {}
            token = value.strip()
        try:
            claims = tokens.verify(token, self.jwt_secret, self.clock_skew)
        except tokens.JwtError as err:
            raise RestError(401, err.code, err.message, headers={
                "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{err.message}"'}) from None
        role = claims.get("role") if isinstance(claims.get("role"), str) else "anon"
        return role, claims
