"""The one list of routes: every URL of the app, its name (for :class:`web.render.Urls`)
and the view behind it. Tests walk this list for the route × role table."""

from __future__ import annotations

import re

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from archive.core.errors import NotFoundError
from web import (
    views_admin,
    views_auth,
    views_correct,
    views_materials,
    views_records,
    views_work,
)
from web.context import app_parts


class Sha256Convertor(Convertor[str]):
    """A record's id: 64 lowercase hex digits, nothing else (no path can be smuggled in)."""

    regex = "[0-9a-f]{64}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        if not re.fullmatch(self.regex, value):
            raise ValueError(f"not a record id: {value!r}")
        return value


register_url_convertor("sha256", Sha256Convertor())


def asset(request: Request) -> Response:
    """A static file of the package, by its content-hashed name (kept a year by browsers)."""
    found = app_parts(request).assets.get(request.path_params["name"])
    if found is None:
        raise NotFoundError("没有这个文件")
    return Response(
        found.data,
        media_type=found.media_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


R = "/record/{sha:sha256}"

ROUTES = [
    Route("/login", views_auth.login_form, methods=["GET"], name="login"),
    Route("/login", views_auth.login, methods=["POST"], name="login_post"),
    Route("/logout", views_auth.logout, methods=["POST"], name="logout"),
    Route("/account/password", views_auth.password_form, methods=["GET"], name="password"),
    Route("/account/password", views_auth.password, methods=["POST"], name="password_post"),
    Route("/", views_records.home, methods=["GET"], name="home"),
    Route("/search", views_records.search, methods=["GET"], name="search"),
    Route("/api/households", views_records.suggest, methods=["GET"], name="suggest"),
    Route("/dossier/{key:path}", views_records.dossier, methods=["GET"], name="dossier"),
    Route("/print/{key:path}", views_records.print_catalogue, methods=["GET"], name="print"),
    Route(R, views_records.record, methods=["GET"], name="record"),
    Route(R + "/page/{n:int}", views_records.page, methods=["GET"], name="page"),
    Route(R + "/thumb/{n:int}", views_records.thumb, methods=["GET"], name="thumb"),
    Route(R + "/image/{n:int}", views_records.image, methods=["GET"], name="image"),
    Route(R + "/original", views_records.original, methods=["GET"], name="original"),
    Route(R + "/searchable", views_records.searchable, methods=["GET"], name="searchable"),
    Route("/quarantine", views_records.quarantine, methods=["GET"], name="quarantine"),
    Route("/users", views_admin.users, methods=["GET"], name="users"),
    Route("/users", views_admin.user_action, methods=["POST"], name="users_post"),
    Route("/log", views_admin.log, methods=["GET"], name="log"),
    Route("/log.xlsx", views_admin.log_export, methods=["GET"], name="log_export"),
    *views_work.routes(),  # the clerk's work
    *views_correct.routes(),
    *views_materials.routes(),
    Route("/assets/{name}", asset, methods=["GET"], name="asset"),
]
