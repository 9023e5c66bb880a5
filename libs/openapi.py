"""OpenAPI 3.1 documents walked from an aiohttp router: every route is in its service's document by construction,
and what each handler takes comes from its own declaration (`operation(...)`): the pydantic model `read_body`
validates it with and the query parameters it accepts, so the document cannot drift from the code.

Each service serves its own at GET /openapi.json (libs/web.py); the gateway merges them (`merge`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"
ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "array"}},
        }
    },
}
REFUSALS = {  # what any operation may answer besides its success; each with the error envelope
    "400": "invalid path, query or JSON (control characters, unknown query parameters, malformed or too deep)",
    "401": "no or unknown API token",
    "403": "the token's role may not do this (details list allowed_roles)",
    "404": "no such object, or one the token may not see (the same answer)",
    "409": "not allowed in the object's present state (details list what is)",
    "413": "body too large",
    "422": "the body failed validation (one detail per field)",
    "503": "a database or the bus is not answering; retry after Retry-After",
}
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "basic": {"type": "http", "scheme": "basic"},
    "tierlineKey": {"type": "apiKey", "in": "header", "name": "X-Tierline-Key"},
}
Query = Mapping[str, Sequence[str] | None]  # parameter -> its allowed values (None: free text)
H = TypeVar("H", bound=Callable[..., Any])
_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Operation:
    summary: str
    body: type[BaseModel] | None = None  # the JSON body read_body validates (absent: no body taken)
    form: Sequence[str] = ()  # an HTML form's fields (the console), instead of a JSON body
    query: Query = field(default_factory=dict)
    ok: int = 200
    media: str = "application/json"  # what a success answers
    pages: bool = False  # refusals are HTML pages too (the console's), not the error envelope
    public: bool = False  # no credentials (health, this document, a page's signed link)
    hidden: bool = False  # a catch-all the gateway forwards: not an operation of its own


def operation(summary: str, **kw: Any) -> Callable[[H], H]:
    """Declare what a handler takes; for a handler made by a factory, call it on the handler made."""

    def mark(handler: H) -> H:
        handler.__openapi__ = Operation(summary, **kw)  # type: ignore[attr-defined]
        return handler

    return mark


def declared(handler: Any) -> Operation | None:
    return getattr(handler, "__openapi__", None)


def template(resource: web.AbstractResource) -> str | None:
    """A route's path as an OpenAPI template: /v1/changes/{ref}; a static directory's files as {filename}."""
    info = resource.get_info()
    if "prefix" in info:  # static files
        return f"{info['prefix'].rstrip('/')}/{{filename}}"
    path = info.get("path") or info.get("formatter")
    return _PARAM.sub(r"{\1}", path) if path else None


STATIC = Operation("static files", media="application/octet-stream", public=True)


def routes(app: web.Application) -> list[tuple[str, str, Operation | None]]:
    """(method, template, declaration) of every route of the app (HEAD, aiohttp's shadow of GET, left out)."""
    out = []
    for route in app.router.routes():
        path = template(route.resource) if route.resource else None
        if path and route.method != "HEAD":
            static = isinstance(route.resource, web.StaticResource)
            out.append((route.method, path, STATIC if static else declared(route.handler)))
    return out


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _parameters(path: str, op: Operation) -> list[dict[str, Any]]:
    params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in _PARAM.findall(path)]
    for name, allowed in op.query.items():
        schema = {"type": "string", "enum": list(allowed)} if allowed else {"type": "string"}
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    return params


def _operation(path: str, op: Operation) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "done" if op.ok < 300 else "redirected"}
    if op.ok < 300:
        ok["content"] = {op.media: {"schema": {"type": "object"} if op.media == "application/json" else {}}}
    out: dict[str, Any] = {"summary": op.summary, "parameters": _parameters(path, op), "responses": {str(op.ok): ok}}
    refused = _json({"$ref": REF.format(model="Error")})
    if op.pages or op.media == "text/html":  # a page's refusal is a page too
        refused = {"content": {"text/html": {"schema": {}}}}
    for status, why in REFUSALS.items():
        out["responses"].setdefault(status, {"description": why, **refused})
    if op.body is not None:
        out["requestBody"] = {"required": False, **_json({"$ref": REF.format(model=op.body.__name__)})}
    elif op.form:
        props = {name: {"type": "string"} for name in op.form}
        out["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "properties": props}}}}  # fmt: skip
    if op.public:
        out["security"] = []
    return out


def document(app: web.Application, *, title: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The app's OpenAPI 3.1 document. `overrides` is a document whose paths replace the generated ones (intake
    writes its webhooks' by hand). A route whose handler declares nothing is marked x-undeclared (a test fails)."""
    found = routes(app)
    models = {op.body for _, _, op in found if op is not None and op.body is not None}
    _, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)], ref_template=REF
    )
    paths: dict[str, Any] = {}
    for method, path, op in found:
        if op is None:
            paths.setdefault(path, {})[method.lower()] = {"summary": "undeclared", "x-undeclared": True,
                                                          "responses": {"default": {"description": "?"}}}  # fmt: skip
        elif not op.hidden:  # a route of any method ("*": one service's endpoints) is documented as its GET
            paths.setdefault(path, {})["get" if method == "*" else method.lower()] = _operation(path, op)
    schemas = {**defs.get("$defs", {}), "Error": ERROR}
    if overrides:
        paths |= overrides.get("paths", {})
        schemas |= overrides.get("components", {}).get("schemas", {})
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
        "security": [{"bearer": []}, {"basic": []}],
    }


def _rename(doc: dict[str, Any], names: Iterable[str], prefix: str) -> dict[str, Any]:
    """`doc` with each schema in `names` called `prefix.name`, its references followed."""
    text = json.dumps(doc)
    for name in names:
        text = text.replace(f'"{REF.format(model=name)}"', f'"{REF.format(model=f"{prefix}.{name}")}"')
    out = json.loads(text)
    schemas = out["components"]["schemas"]
    for name in names:
        schemas[f"{prefix}.{name}"] = schemas.pop(name)
    return out


def merge(
    docs: Mapping[str, dict[str, Any]], owner: Callable[[str], str | None], own: dict[str, Any]
) -> dict[str, Any]:
    """One document for a base URL: each service's paths that `owner` routes to it (so every service's /healthz is
    left to `own`, the router's document), and schemas that two services name alike but define differently
    renamed `<service>.<name>`."""
    out = {**own, "paths": dict(own["paths"]), "components": {**own["components"]}}
    schemas: dict[str, Any] = dict(own["components"]["schemas"])
    for service, doc in sorted(docs.items()):
        clash = [n for n, s in doc["components"]["schemas"].items() if n in schemas and schemas[n] != s]
        doc = _rename(doc, clash, service) if clash else doc
        out["paths"] |= {p: ops for p, ops in doc["paths"].items() if owner(p) == service}
        schemas |= doc["components"]["schemas"]
    out["components"]["schemas"] = schemas
    out["info"] = {**own["info"], "description": f"Every service's API: {', '.join(sorted(docs))}."}
    return out


OVERRIDES: web.AppKey[dict[str, Any]] = web.AppKey("openapi_overrides", dict)  # a service's own paths
