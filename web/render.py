"""Templates, static assets and URLs: package data, loaded through importlib.resources.

Assets are served under content-hashed names (``/assets/app.3f2a9c1b.css``) so a browser
may keep them for a year and still never shows a stale one after an upgrade. Every URL in a
page is built by :func:`url` from a route name, never pasted together in a template.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from starlette.routing import Route, Router

from archive.access.roles import allowed, role_label
from archive.records.dossier import kind_label


@dataclass(frozen=True)
class Asset:
    name: str  # e.g. app.css
    hashed: str  # e.g. app.3f2a9c1b.css
    data: bytes
    media_type: str


def load_assets() -> dict[str, Asset]:
    """Every file of ``web/static``, by its hashed name."""
    out: dict[str, Asset] = {}
    for entry in resources.files("web").joinpath("static").iterdir():
        if not entry.is_file() or entry.name.startswith("."):
            continue
        data = entry.read_bytes()
        stem, _, ext = entry.name.rpartition(".")
        hashed = f"{stem}.{hashlib.sha256(data).hexdigest()[:10]}.{ext}"
        media = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
        if media.startswith("text/") or media.endswith("javascript"):
            media += "; charset=utf-8"
        out[hashed] = Asset(entry.name, hashed, data, media)
    return out


class Urls:
    """URLs from route names: path parameters quoted, query parameters encoded.

    Built from each route's own path format (``/record/{sha}/page/{n}``): a page builds
    dozens of URLs, and asking the router would try every route for each one. A parameter
    missing or extra is an error here, as it would be there."""

    def __init__(self, router: Router, assets: dict[str, Asset]) -> None:
        self.formats: dict[str, tuple[str, frozenset[str]]] = {
            r.name: (r.path_format, frozenset(r.param_convertors))
            for r in router.routes
            if isinstance(r, Route)
        }
        self.asset_names = {a.name: a.hashed for a in assets.values()}

    def __call__(self, route: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
        form, names = self.formats[route]
        if names != params.keys():
            raise ValueError(f"{route}: needs {sorted(names)}, got {sorted(params)}")
        path = form.format(**{k: _quoted(v) for k, v in params.items()})
        if query:
            pairs = [(k, v) for k, v in query.items() if v not in (None, "", False)]
            if pairs:
                path += "?" + urlencode(pairs)
        return path

    def asset(self, name: str) -> str:
        return self("asset", name=self.asset_names[name])


_PLAIN = re.compile(r"[0-9A-Za-z_.\-/]*")


def _quoted(value: Any) -> str:
    text = str(value)
    return text if _PLAIN.fullmatch(text) else quote(text, safe="/")


def _date(value: str | None) -> str:
    """ISO timestamps as people read them: 2024-05-01 14:03."""
    if not value:
        return ""
    return str(value)[:16].replace("T", " ")


def make_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("web", "templates"),
        auto_reload=False,  # templates are package data: read once, not checked per page
        autoescape=True,  # every value is text: markup in data is shown, never run
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _date
    env.filters["thousands"] = lambda n: f"{int(n):,}"
    env.globals.update(role_label=role_label, kind_label=kind_label, allowed=allowed)
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)  # compiled once here, not by the first requests at once
    return env
