"""The documentation pages: /docs (Swagger UI), its OAuth 2.0 redirect page, and /redoc.

Their scripts come from a CDN, pinned to the exact versions that the `fastapi-offline` package
(the local extra) ships; with ``offline`` (``order-api serve``) this process serves that
package's copies itself, so /docs works without internet. The Lambda asset does not carry them:
they would add 0.42 MiB zipped (Swagger UI) or 0.73 MiB (with ReDoc) to every cold start's
download, and every page view would pull 1.5 MB through API Gateway and the function instead of a
browser-cached CDN file (docs/deploy.md, "API docs").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse

DOCS = "/docs"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
REDOC = "/redoc"
# Where `offline` serves the package's files.
ASSETS = "/docs/assets"
# The versions in fastapi-offline's static files (a test holds the two equal).
SWAGGER_UI_VERSION = "5.32.6"
REDOC_VERSION = "2.5.3"
_CDN = "https://cdn.jsdelivr.net/npm"


@dataclass(frozen=True)
class Assets:
    swagger_js: str
    swagger_css: str
    redoc_js: str
    favicon: str


CDN_ASSETS = Assets(
    swagger_js=f"{_CDN}/swagger-ui-dist@{SWAGGER_UI_VERSION}/swagger-ui-bundle.js",
    swagger_css=f"{_CDN}/swagger-ui-dist@{SWAGGER_UI_VERSION}/swagger-ui.css",
    redoc_js=f"{_CDN}/redoc@{REDOC_VERSION}/bundles/redoc.standalone.js",
    favicon=f"{_CDN}/swagger-ui-dist@{SWAGGER_UI_VERSION}/favicon-32x32.png",
)
LOCAL_ASSETS = Assets(
    swagger_js=f"{ASSETS}/swagger-ui-bundle.js",
    swagger_css=f"{ASSETS}/swagger-ui.css",
    redoc_js=f"{ASSETS}/redoc.standalone.js",
    favicon=f"{ASSETS}/favicon.png",
)

SWAGGER_UI_PARAMETERS: dict[str, Any] = {
    # Swagger UI's default sends the document to swagger.io's validator for a badge: a third
    # party would read the API's description on every page view.
    "validatorUrl": None,
    "displayRequestDuration": True,
}


def install(
    app: FastAPI, *, offline: bool, init_oauth: dict[str, Any] | None, openapi_url: str
) -> None:
    """The three pages (FastAPI's own are turned off in ``create_app``), and with ``offline``
    the scripts they load. ``init_oauth`` is Swagger UI's ``initOAuth`` (client id, PKCE,
    scopes) when /docs offers sign-in."""
    assets = LOCAL_ASSETS if offline else CDN_ASSETS

    def at(request: Request, url: str) -> str:
        # Our own paths behind a path prefix (root_path); CDN addresses as they are.
        return url if url.startswith("https://") else request.scope.get("root_path", "") + url

    async def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=at(request, openapi_url),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=at(request, assets.swagger_js),
            swagger_css_url=at(request, assets.swagger_css),
            swagger_favicon_url=at(request, assets.favicon),
            oauth2_redirect_url=at(request, OAUTH2_REDIRECT),
            init_oauth=init_oauth,
            swagger_ui_parameters=SWAGGER_UI_PARAMETERS,
        )

    async def oauth2_redirect(request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=at(request, openapi_url),
            title=f"{app.title} - ReDoc",
            redoc_js_url=at(request, assets.redoc_js),
            redoc_favicon_url=at(request, assets.favicon),
            # Offline means no third party at all: ReDoc falls back to the system's fonts.
            with_google_fonts=not offline,
        )

    for path, page in ((DOCS, swagger_ui), (OAUTH2_REDIRECT, oauth2_redirect), (REDOC, redoc)):
        app.add_route(path, page, methods=["GET"], include_in_schema=False)
    if offline:
        app.mount(ASSETS, _local_assets(), name="docs-assets")


def _local_assets() -> Any:
    """The static files of `fastapi-offline` (the local extra): only its files, not its
    FastAPI factory, which would configure the pages for us."""
    from importlib.resources import files

    from starlette.staticfiles import StaticFiles

    try:
        directory = files("fastapi_offline") / "static"
    except ModuleNotFoundError as missing:
        raise RuntimeError(
            "offline API docs need the local extra: pip install 'lambda_app[local]'"
        ) from missing
    return StaticFiles(directory=str(directory))
