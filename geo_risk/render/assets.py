"""Static assets the map page inlines: Leaflet (from an installed package) and our own JS/CSS.

Nothing third-party lives in this repository. Leaflet 1.9.4 is read at render time from the
installed PyPI package ``django-js-lib-leaflet`` (import name ``js_lib_leaflet``) with
:mod:`importlib.resources`; the images its stylesheet points at are turned into ``data:`` URIs
so that opening the page never fetches anything. Our own ``map.js`` and ``map.css`` ship as
package data of :mod:`geo_risk.render`.

Every asset is checked before it is inlined: a script must not contain ``</script`` and a
stylesheet must not contain ``</style`` (either would end the block early), and a stylesheet
must not reference any URL other than a ``data:`` URI.
"""

from __future__ import annotations

import base64
import re
from importlib import resources
from importlib.resources.abc import Traversable

from geo_risk.errors import GeoRiskError

#: Package and folder holding Leaflet's distribution files.
LEAFLET_PACKAGE = "js_lib_leaflet"
LEAFLET_DIR = ("static", "js_lib_leaflet")
#: Leaflet version the page is written against (checked against the file header).
LEAFLET_VERSION = "1.9.4"

_URL_RE = re.compile(r"url\(\s*(['\"]?)([^'\")]*)\1\s*\)", re.IGNORECASE)
_VML_BEHAVIOUR_RE = re.compile(r"behavior\s*:\s*url\(#default#VML\)\s*;?", re.IGNORECASE)


class AssetError(GeoRiskError, RuntimeError):
    """An asset the map page needs is missing or cannot be inlined safely."""


def _leaflet_root() -> Traversable:
    try:
        root = resources.files(LEAFLET_PACKAGE)
    except ModuleNotFoundError as exc:
        raise AssetError(
            "Leaflet is not installed: install the 'django-js-lib-leaflet' package "
            "(pip install django-js-lib-leaflet)"
        ) from exc
    for part in LEAFLET_DIR:
        root = root / part
    return root


def _read_text(node: Traversable, what: str) -> str:
    try:
        return node.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise AssetError(f"cannot read {what} ({node}): {exc}") from exc


def _script_safe(text: str, what: str) -> str:
    """Return ``text`` made safe to sit inside ``<script>…</script>``."""
    # ``<\/script`` means the same inside JS strings, regexes and comments.
    text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE)
    if "<!--" in text:
        raise AssetError(f"{what} contains '<!--', which cannot be inlined in a <script> block")
    return text


def _style_safe(text: str, what: str) -> str:
    if re.search(r"</style", text, flags=re.IGNORECASE):
        raise AssetError(f"{what} contains '</style', which cannot be inlined in a <style> block")
    for match in _URL_RE.finditer(text):
        if not match.group(2).startswith("data:"):
            raise AssetError(f"{what} references {match.group(2)!r}; only data: URIs are allowed")
    return text


def leaflet_js() -> str:
    """Leaflet's minified JavaScript, ready to inline in a ``<script>`` block.

    Returns
    -------
    str
        The script text.

    Raises
    ------
    AssetError
        If the package is missing or holds another Leaflet version.
    """
    text = _read_text(_leaflet_root() / "leaflet.js", "leaflet.js")
    if f"Leaflet {LEAFLET_VERSION}" not in text[:300]:
        raise AssetError(f"leaflet.js from {LEAFLET_PACKAGE} is not Leaflet {LEAFLET_VERSION}")
    return _script_safe(text, "leaflet.js")


def leaflet_css() -> str:
    """Leaflet's stylesheet with every image it references inlined as a ``data:`` URI.

    The IE-only ``behavior: url(#default#VML)`` declaration is dropped.

    Returns
    -------
    str
        The stylesheet text; it references no URL other than ``data:`` URIs.
    """
    root = _leaflet_root()
    text = _VML_BEHAVIOUR_RE.sub("", _read_text(root / "leaflet.css", "leaflet.css"))

    def inline(match: re.Match[str]) -> str:
        target = match.group(2)
        if target.startswith("data:"):
            return match.group(0)
        if not re.fullmatch(r"images/[A-Za-z0-9_.-]+\.png", target):
            raise AssetError(f"leaflet.css references unexpected URL {target!r}")
        node = root
        for part in target.split("/"):
            node = node / part
        try:
            payload = base64.b64encode(node.read_bytes()).decode("ascii")
        except (FileNotFoundError, OSError) as exc:
            raise AssetError(f"cannot read Leaflet image {target}: {exc}") from exc
        return f'url("data:image/png;base64,{payload}")'

    return _style_safe(_URL_RE.sub(inline, text), "leaflet.css")


def own_js() -> str:
    """Our page script (``geo_risk/render/map.js``), ready to inline.

    Returns
    -------
    str
        The script text.
    """
    root = resources.files("geo_risk.render")
    # The display tiers (map_tiers.js) first: map.js calls geoRiskTiers.
    text = "\n".join(_read_text(root / name, f"geo_risk/render/{name}")
                     for name in ("map_tiers.js", "map.js"))
    return _script_safe(text, "map.js")


def own_css() -> str:
    """Our page stylesheet (``geo_risk/render/map.css``), ready to inline.

    Returns
    -------
    str
        The stylesheet text.
    """
    node = resources.files("geo_risk.render") / "map.css"
    return _style_safe(_read_text(node, "geo_risk/render/map.css"), "map.css")
