#!/usr/bin/env python3
"""Vendor the CSS, scripts and fonts Great Expectations' Data Docs pages load from CDNs into the portal
(`faces/portal/static/vendor/`), from the npm registry (`npm pack`, the registry's ordinary client), with a
manifest of what each CDN URL became: package, version, licence, the npm tarball's integrity and the
sha256 of every file (`faces/portal/static/vendor/manifest.json`; the portal rewrites the URLs with it,
`faces.portal.data_docs`). Run again when great-expectations is upgraded and its templates
(great_expectations/render/view/templates/*.j2) name other versions:

    python scripts/vendor_data_docs_assets.py
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "faces" / "portal" / "static" / "vendor"

# (npm spec, the folder it goes to, {CDN URL the GX templates name: path inside the package}, extra files)
# `vega@5`, `vega-lite@5`, `vega-embed@6`: the GX templates ask jsDelivr for the latest of the major version;
# the newest at vendoring time is pinned here (the manifest records which).
PACKAGES = [
    ("bootstrap@4.3.1", {
        "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "dist/css/bootstrap.min.css",
        "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "dist/js/bootstrap.min.js"}, []),
    ("jquery@3.7.1", {"https://code.jquery.com/jquery-3.7.1.min.js": "dist/jquery.min.js"}, []),
    ("popper.js@1.12.9", {
        "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "dist/umd/popper.min.js"}, []),
    ("bootstrap-table@1.19.1", {
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": "dist/bootstrap-table.min.css",
        "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": "dist/bootstrap-table.min.js",
        "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js":
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.js"}, []),
    ("bootstrap-table@1.19.0", {
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css":
            "dist/extensions/filter-control/bootstrap-table-filter-control.css",
        "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css":
            "dist/extensions/filter-control/bootstrap-table-filter-control.min.css"}, []),
    ("bootstrap-datepicker@1.9.0", {
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
            "dist/css/bootstrap-datepicker.min.css",
        "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
            "dist/js/bootstrap-datepicker.min.js"}, []),
    ("@forevolve/bootstrap-dark@1.1.0", {
        "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
            "dist/css/bootstrap-prefers-dark.css"}, []),
    ("vega@5", {"https://cdn.jsdelivr.net/npm/vega@5": "build/vega.min.js"}, []),
    ("vega-lite@5", {"https://cdn.jsdelivr.net/npm/vega-lite@5": "build/vega-lite.min.js"}, []),
    ("vega-embed@6", {"https://cdn.jsdelivr.net/npm/vega-embed@6": "build/vega-embed.min.js"}, []),
    # all.min.css loads ../webfonts/*: the woff2 files (every browser the portal supports reads them) and ttf
    ("@fortawesome/fontawesome-free@6.6.0", {
        "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "css/all.min.css"},
     [f"webfonts/fa-{n}.{ext}" for n in ("brands-400", "regular-400", "solid-900", "v4compatibility")
      for ext in ("woff2", "ttf")]),
]
LICENCE_FILES = ("LICENSE", "LICENSE.txt", "LICENSE.md")
GX_IMAGES = ("favicon.ico", "logo-long.png")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def gx_images() -> dict:
    """GX's own favicon and logo, which its pages take from each site's `static/images` (or GX's S3 bucket):
    copied from the locked great-expectations wheel (PyPI), so that a sandboxed page, which sends no cookie,
    loads them without signing in."""
    import importlib.metadata

    import great_expectations

    version = importlib.metadata.version("great-expectations")
    source = Path(great_expectations.__file__).parent / "render" / "view" / "static" / "images"
    folder = VENDOR / f"great_expectations@{version}"
    files = []
    for name in GX_IMAGES:
        target = folder / "images" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((source / name).read_bytes())
        files.append({"path": f"{folder.name}/images/{name}", "sha256": sha256(target)})
    dist = Path(importlib.metadata.distribution("great-expectations")._path)  # type: ignore[attr-defined]
    licence = next(dist.glob("licenses/LICENSE*"), None)
    if licence is not None:
        (folder / "LICENSE").write_bytes(licence.read_bytes())
    return {"package": "great-expectations", "spec": f"great-expectations=={version} (PyPI, uv.lock)",
            "version": version, "license": importlib.metadata.metadata("great-expectations")["License"],
            "license_file": f"{folder.name}/LICENSE" if licence else None,
            "homepage": "https://greatexpectations.io", "npm_integrity": None, "files": files}


def main() -> None:
    entries = []
    with tempfile.TemporaryDirectory() as tmp:
        for spec, urls, extra in PACKAGES:
            packed = json.loads(subprocess.run(["npm", "pack", spec, "--json", "--pack-destination", tmp],
                                               check=True, capture_output=True, text=True).stdout)[0]
            name, version = packed["name"], packed["version"]
            folder = VENDOR / f"{name.split('/')[-1]}@{version}"
            with tarfile.open(Path(tmp) / packed["filename"]) as tar:
                members = {m.name.removeprefix("package/"): m for m in tar.getmembers() if m.isfile()}
                meta = json.loads(tar.extractfile(members["package.json"]).read())   # type: ignore[union-attr]
                wanted = [*urls.values(), *extra, *(f for f in LICENCE_FILES if f in members)]
                for inner in wanted:
                    target = folder / inner
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tar.extractfile(members[inner]).read())   # type: ignore[union-attr]
            licence_file = next((f for f in LICENCE_FILES if (folder / f).is_file()), None)
            files = [{"path": f"{folder.name}/{inner}", "sha256": sha256(folder / inner),
                      **({"cdn_url": url} if (url := next((u for u, p in urls.items() if p == inner), None)) else {})}
                     for inner in [*urls.values(), *extra]]
            entries.append({"package": name, "spec": spec, "version": version, "license": meta.get("license"),
                            "license_file": f"{folder.name}/{licence_file}" if licence_file else None,
                            "homepage": meta.get("homepage"), "npm_integrity": packed["integrity"], "files": files})
    entries.append(gx_images())
    manifest = {"about": "Assets Great Expectations' Data Docs pages load from CDNs, served by the portal instead "
                         "(faces/portal/data_docs.py); written by scripts/vendor_data_docs_assets.py from the npm "
                         "registry (and GX's own images from its wheel).", "packages": entries}
    (VENDOR / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
