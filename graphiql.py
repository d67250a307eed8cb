"""Serve GraphiQL without internet access.

Strawberry's GraphiQL page loads React, GraphiQL and the explorer plugin from
the unpkg CDN. Hospital intranets cannot reach it, so we install the very same
npm files (pinned in ``package.json``) into ``node_modules/`` and serve them
ourselves under ``/graphiql-assets/``.

The page itself is still strawberry's own template; we only rewrite its unpkg
URLs. The ``integrity`` (SRI) attributes are kept: the npm files are
byte-identical to the CDN ones, so the browser still verifies every file.

Typical wiring (once, at application start-up)::

    page = graphiql_html(REPO_ROOT)      # serve this for GET /graphql
    routes = [*asset_routes(REPO_ROOT), ...]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Final

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from strawberry.http.ides import get_graphql_ide_html

logger = logging.getLogger(__name__)

ASSET_PREFIX: Final = "/graphiql-assets"
CDN_BASE: Final = "https://unpkg.com/"

# npm package -> exact version. Must equal package.json *and* the versions in
# strawberry's template; otherwise the SRI hashes in the page would not match.
PINNED_PACKAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "react": "18.2.0",
        "react-dom": "18.2.0",
        "js-cookie": "3.0.5",
        "graphiql": "3.8.3",
        "@graphiql/plugin-explorer": "1.0.2",
    }
)

# (package, file inside the package) for every file strawberry's page loads.
_FILES: Final = (
    ("react", "umd/react.production.min.js"),
    ("react-dom", "umd/react-dom.production.min.js"),
    ("js-cookie", "dist/js.cookie.min.js"),
    ("graphiql", "graphiql.min.css"),
    ("graphiql", "graphiql.min.js"),
    ("@graphiql/plugin-explorer", "dist/style.css"),
    ("@graphiql/plugin-explorer", "dist/index.umd.js"),
)

# URL name -> file relative to node_modules/. The URL name is the unpkg path
# ("react@18.2.0/umd/..."), so rewriting the page is a plain prefix swap and
# the version in the URL makes the "immutable" cache header safe across
# upgrades. This mapping is also the whitelist: nothing else is ever served.
ASSET_FILES: Final[Mapping[str, PurePosixPath]] = MappingProxyType(
    {f"{package}@{PINNED_PACKAGES[package]}/{file}": PurePosixPath(package, file) for package, file in _FILES}
)

_MEDIA_TYPES: Final[Mapping[str, str]] = MappingProxyType(
    {
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
    }
)

# Versions are part of the URL, so a file behind a URL never changes.
_CACHE_CONTROL: Final = "public, max-age=31536000, immutable"

_INSTALL_HINT: Final = "run `make assets` (or `npm ci`) in the repository root"


def _node_modules(root: Path) -> Path:
    return root / "node_modules"


def _installed_version(root: Path, package: str) -> str | None:
    """Version from ``node_modules/<package>/package.json``, or None if absent."""
    manifest = _node_modules(root) / package / "package.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def assets_available(root: Path) -> bool:
    """Return True if every GraphiQL asset is installed at its pinned version.

    A stale ``node_modules`` (other versions) counts as unavailable: its files
    would fail the page's SRI check and GraphiQL would show a blank page.
    """
    modules = _node_modules(root)
    if not all((modules / rel).is_file() for rel in ASSET_FILES.values()):
        return False
    return all(_installed_version(root, package) == version for package, version in PINNED_PACKAGES.items())


def graphiql_html(root: Path) -> str:
    """Strawberry's GraphiQL page, loading its JS/CSS from this server.

    Every unpkg URL is rewritten to ``/graphiql-assets/<name>``. If the assets
    are not installed, or strawberry's template no longer loads exactly the
    pinned files (e.g. after a strawberry upgrade), the unmodified CDN page is
    returned and a warning is logged, so GraphiQL keeps working where the
    internet is reachable. Call once at start-up; the result does not change.
    """
    template = get_graphql_ide_html("graphiql")

    if not assets_available(root):
        logger.warning(
            "GraphiQL assets are not installed in %s; GraphiQL will load them "
            "from unpkg.com, which fails offline. To fix, %s.",
            _node_modules(root),
            _INSTALL_HINT,
        )
        return template

    html = template
    missing: list[str] = []
    for name in ASSET_FILES:
        cdn_url = CDN_BASE + name
        if cdn_url not in html:
            missing.append(cdn_url)
        html = html.replace(cdn_url, f"{ASSET_PREFIX}/{name}")

    # Anything still pointing at unpkg means the template and our pins have
    # drifted apart; a half-local page would mix versions, so use the CDN one.
    if missing or CDN_BASE in html:
        logger.warning(
            "Strawberry's GraphiQL template no longer matches the pinned assets "
            "(missing from template: %s; other unpkg URLs left: %s); serving the "
            "CDN version. Pin the template's versions in package.json and graphiql.py.",
            ", ".join(missing) or "none",
            CDN_BASE in html,
        )
        return template
    return html


def asset_routes(root: Path) -> list[BaseRoute]:
    """Starlette routes serving the whitelisted assets under ``/graphiql-assets/``.

    Only names in ``ASSET_FILES`` are served; the requested path is a
    dictionary key and never touches the filesystem, so traversal such as
    ``../package.json`` cannot reach other files. Unknown names, and assets
    that are not installed, get 404.
    """
    modules = _node_modules(root)

    async def serve_asset(request: Request) -> Response:
        relative = ASSET_FILES.get(request.path_params["name"])
        if relative is None:
            return PlainTextResponse("Not Found", status_code=404)
        path = modules / relative
        if not path.is_file():
            return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(
            path,
            media_type=_MEDIA_TYPES[path.suffix],
            headers={"Cache-Control": _CACHE_CONTROL},
        )

    return [
        Route(
            f"{ASSET_PREFIX}/{{name:path}}",
            serve_asset,
            methods=["GET", "HEAD"],
            name="graphiql-assets",
        )
    ]
