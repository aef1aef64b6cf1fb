"""Great Expectations' Data Docs pages, served offline: GX writes pages that load bootstrap, jquery,
bootstrap-table, the datepicker, vega and Font Awesome from CDNs (and its logo from its own S3 bucket), so on
a provincial network without internet they show unstyled. The portal serves those assets itself, vendored
from the npm registry into `static/vendor/` with the same versions and bytes GX names (the Subresource
Integrity hashes GX puts on two of them still match), listed with their licences and sha256 in
`static/vendor/manifest.json` (scripts/vendor_data_docs_assets.py writes both). Each page is rewritten as it
is served (pages built before this change are served offline too), and its CSP allows scripts, styles,
images and fonts from 'self' only, inside the sandbox that keeps GX's scripts away from the portal's origin.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

from faces.portal.state import HERE

VENDOR_DIR = HERE / "static" / "vendor"
VENDOR_URL = "/static/vendor/"
MANIFEST = VENDOR_DIR / "manifest.json"
# GX's logo on its S3 bucket (the page's header, the dark theme's CSS): the copy every site carries instead
GX_ASSETS = re.compile(r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/[A-Za-z0-9_.-]+"
                       r"(\?[^\"')\s]*)?")
# the site's copies of GX's images, as its pages name them (./static/images/favicon.ico, ../../../static/...)
SITE_IMAGES = re.compile(r"""(?<=["'(])(?:\.{1,2}/)*static/images/(favicon\.ico|logo-long\.png)""")
REWRITTEN = (".html", ".css")

# sandbox: GX's scripts run in an opaque origin (no cookies, no portal pages); everything else from 'self'.
# 'unsafe-inline' because GX's pages carry inline scripts and styles; 'unsafe-eval' for vega's expressions.
CSP = ("sandbox allow-scripts allow-popups; default-src 'none'; "
       "script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")


@functools.cache
def cdn_map(manifest: Path = MANIFEST) -> dict[str, str]:
    """CDN URL (as the GX templates write it) -> the portal's own URL of the same file."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    return {f["cdn_url"]: VENDOR_URL + f["path"] for p in data["packages"] for f in p["files"] if "cdn_url" in f}


@functools.cache
def gx_images_url(manifest: Path = MANIFEST) -> str:
    """Where the portal serves GX's own images (favicon, logo), vendored from its wheel."""
    data = json.loads(manifest.read_text(encoding="utf-8"))
    gx = next(p for p in data["packages"] if p["package"] == "great-expectations")
    return f"{VENDOR_URL}great_expectations@{gx['version']}/images/"


@functools.cache
def _pattern(manifest: Path = MANIFEST) -> re.Pattern[str]:
    urls = sorted(cdn_map(manifest), key=len, reverse=True)   # the longest first: vega-lite@5 before vega@5
    return re.compile("|".join(re.escape(u) for u in urls) + r"(?=[\"'\s)>])")


def rewrite(text: str) -> str:
    """A Data Docs page (or its CSS) with every CDN asset, GX's logo and the site's own images (favicon) served
    from the portal's public `static/vendor/`: a sandboxed page sends no cookie, so it could not load a file
    of the signed-in site itself."""
    urls = cdn_map()
    text = _pattern().sub(lambda m: urls[m.group(0)], text)
    text = SITE_IMAGES.sub(lambda m: gx_images_url() + m.group(1), text)
    return GX_ASSETS.sub(gx_images_url() + "logo-long.png", text)


def served(path: Path) -> bytes | None:
    """The bytes to serve for a file of a Data Docs site: rewritten for a page or a stylesheet, None for any
    other file (served as it is)."""
    if path.suffix.lower() not in REWRITTEN:
        return None
    return rewrite(path.read_text(encoding="utf-8")).encode("utf-8")
