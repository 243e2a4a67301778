"""Concrete requests for every operation in an OpenAPI document, and the role each route
needs (read from its FastAPI dependencies, so a new route is covered without a list)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from gateway.api import create_app
from gateway.api.deps import require_role
from gateway.api.ratelimit import RateLimit, add_rate_limit
from gateway.security.auth import Role
from tests.api.conftest import make_settings

METHODS = ("get", "post", "put", "patch", "delete")
# Routes that check the token themselves instead of through ``require_role`` (documented in
# the API description): EventSource and GeoReport v2 clients cannot always send the header.
CUSTOM_AUTH: dict[tuple[str, str], Role] = {
    ("GET", "/api/v1/feed"): Role.OPERATOR,
    ("POST", "/open311/v2/requests.json"): Role.OPERATOR,
}
# Public routes where a token is optional and widens the view (GeoReport v2 GETs): no token is
# fine, a presented one must be valid (401 otherwise).
OPTIONAL_AUTH = frozenset({("GET", "/open311/v2/requests.json"),
                           ("GET", "/open311/v2/requests/{service_request_id}.json")})


@dataclass(frozen=True)
class Call:
    method: str
    template: str
    url: str
    body: Any  # JSON
    form: dict[str, Any] | None  # application/x-www-form-urlencoded
    least: Role | None  # None: a public route
    streams: bool  # answers with an endless stream (SSE) when allowed


def _calls(dependant: Dependant) -> list[Any]:
    found = [dependant.call]
    for sub in dependant.dependencies:
        found += _calls(sub)
    return found


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    dependant: Dependant


def api_routes(app: FastAPI) -> list[RouteInfo]:
    """Every API route with its effective dependencies (router-level ones included).

    FastAPI >= 0.16x keeps included routers nested; ``iter_route_contexts`` flattens them.
    """
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: routes are flat
        contexts: list[Any] = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        contexts = list(iter_route_contexts(app.routes))
    out = []
    for ctx in contexts:
        dependant = getattr(ctx, "dependant", None)
        if isinstance(dependant, Dependant) and ctx.path:
            path = re.sub(r"\{(\w+):\w+\}", r"{\1}", ctx.path)  # /{p:path} is /{p} in OpenAPI
            out += [RouteInfo(m, path, dependant) for m in ctx.methods or ()]
    return out


def required_role(route: RouteInfo) -> Role | None:
    calls = _calls(route.dependant)
    roles = [r for r in Role if any(c is require_role(r) for c in calls)]
    return max(roles, key=lambda r: r.rank) if roles else None


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def example(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A value valid for ``schema`` where the schema says enough (examples, enums, types)."""
    schema = _resolve(schema, spec)
    for key in ("examples", "enum"):
        if schema.get(key):
            return schema[key][0]
    if "example" in schema:
        return schema["example"]
    if "default" in schema:
        return schema["default"]
    for key in ("anyOf", "oneOf", "allOf"):
        options = [o for o in schema.get(key, []) if _resolve(o, spec).get("type") != "null"]
        if options:
            return example(options[0], spec)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example(props[name], spec) for name in schema.get("required", []) if name in props}
    if kind == "array":
        return [example(schema.get("items", {}), spec)] if schema.get("minItems") else []
    return {"integer": 1, "number": 1.0, "boolean": True}.get(kind or "", "x")


def operation_calls(app: FastAPI, path_values: dict[str, Any]) -> list[Call]:
    """One call per OpenAPI operation; ``path_values`` names existing resources by parameter."""
    spec = app.openapi()
    routes = {(r.method, r.path): r for r in api_routes(app)}
    out = []
    for template, ops in spec["paths"].items():
        for method in METHODS:
            op = ops.get(method)
            if op is None:
                continue
            url, query = template, []
            for p in op.get("parameters", []):
                value = path_values.get(p["name"], example(p.get("schema", {}), spec))
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", str(value))
                elif p["in"] == "query" and p.get("required"):
                    query.append(f"{p['name']}={value}")
            content = op.get("requestBody", {}).get("content", {})
            body = form = None
            if "application/json" in content:
                media = content["application/json"]
                body = media.get("example", example(media.get("schema", {}), spec))
            elif "application/x-www-form-urlencoded" in content:
                media = content["application/x-www-form-urlencoded"]
                form = media.get("example", example(media.get("schema", {}), spec))
            streams = any("text/event-stream" in r.get("content", {}) for r in op.get("responses", {}).values())
            key = (method.upper(), template)
            least = required_role(routes[key]) or CUSTOM_AUTH.get(key)
            out.append(Call(*key, url + ("?" + "&".join(query) if query else ""), body, form, least, streams))
    return out


def build_app(db_url: str, **limits: float) -> FastAPI:
    """The API with its rate limiter. ``limits`` are the Settings fields ``api_rate_per_s``,
    ``api_rate_burst`` and ``api_auth_fail_burst``: once ``create_app`` installs the limiter
    from Settings they take effect there; until then the limiter is added here with them."""
    app = create_app(make_settings(database_url=db_url, **limits))
    if not any(m.cls is RateLimit for m in app.user_middleware):
        add_rate_limit(app, rate_per_s=limits.get("api_rate_per_s", 20.0), burst=int(limits.get("api_rate_burst", 60)),
                       fail_burst=int(limits.get("api_auth_fail_burst", 20)))
    return app
