"""Data Docs styled offline (issue 22.5): the GX pages the portal serves load their CSS, scripts and fonts
from the portal (vendored from the npm registry, the versions and bytes GX names), never from a CDN; the
CSP allows them from 'self'. A browser test opens a page in headless Chromium with every request leaving
the machine aborted, and finds it styled."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

from faces.portal import data_docs

URL = re.compile(r"""(?:src|href)=["'](https?://[^"']+)["']""")


def _gx_template_asset_urls() -> set[str]:
    """Every external script and stylesheet GX's installed templates load."""
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    found: set[str] = set()
    for t in templates.glob("*.j2"):
        for tag in re.findall(r"<(?:script|link)[^>]+>", t.read_text(encoding="utf-8")):
            found.update(u for u in URL.findall(tag) if "greatexpectations.io" not in u)
    return found


def test_every_cdn_asset_of_gx_is_vendored_with_its_sha256_and_licence() -> None:
    manifest = json.loads(data_docs.MANIFEST.read_text(encoding="utf-8"))
    assert _gx_template_asset_urls() <= set(data_docs.cdn_map())   # a GX upgrade naming a new file fails here
    for p in manifest["packages"]:
        assert p["version"] and p["license"] and p["license_file"] or p["package"] in ("vega", "popper.js"), p
        assert p["npm_integrity"] is None and p["package"] == "great-expectations" or \
            p["npm_integrity"].startswith("sha512-"), p
        for f in p["files"]:
            body = (data_docs.VENDOR_DIR / f["path"]).read_bytes()
            assert hashlib.sha256(body).hexdigest() == f["sha256"], f["path"]


def test_the_rewritten_page_names_no_cdn_and_keeps_gx_integrity_hashes() -> None:
    page = ('<link rel="stylesheet" href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css"/>'
            '<script src="https://cdn.jsdelivr.net/npm/vega-lite@5"></script><script src="https://cdn.jsdelivr.net/npm/vega@5">'
            '</script><script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js" integrity='
            '"sha384-ApNbgh9B+Y1QKtv3Rn7W3mgPxhU9K/ScQsAP7hUibX39j7fakFPskvXusvfa0b4Q" crossorigin="anonymous"></script>'
            '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261207T2008Z">')
    page += '<link rel="icon" href="../../../static/images/favicon.ico">'
    out = data_docs.rewrite(page)
    assert "https://" not in out
    assert 'href="/static/vendor/bootstrap@4.3.1/dist/css/bootstrap.min.css"' in out
    assert 'src="/static/vendor/vega-lite@5.23.0/build/vega-lite.min.js"' in out
    assert 'src="/static/vendor/vega@5.33.1/build/vega.min.js"' in out
    assert 'src="/static/vendor/great_expectations@1.24.1/images/logo-long.png"' in out
    assert 'href="/static/vendor/great_expectations@1.24.1/images/favicon.ico"' in out
    # the Subresource Integrity hash GX writes still holds for the vendored bytes (the same file as the CDN's)
    popper = (data_docs.VENDOR_DIR / "popper.js@1.12.9/dist/umd/popper.min.js").read_bytes()
    assert "sha384-" + base64.b64encode(hashlib.sha384(popper).digest()).decode() in out


def test_a_data_docs_page_renders_styled_with_the_network_cut_off(migrated_engine, tmp_path) -> None:
    from tests import portal_e2e_support as sup

    chromium = sup.chromium_path()
    from playwright.sync_api import sync_playwright

    from campaign.config import load_campaign
    from campaign.intake.rules import IntakeRequest
    from campaign.intake.run import run_intake
    from campaign.resources import Resources
    from campaign.settings import Settings
    from campaign.synth import generate_campaign
    from faces.portal.app import create_app

    res = Resources(Settings(home=tmp_path / "home"), load_campaign(), migrated_engine)
    manifest = generate_campaign(tmp_path / "in", people=200, seed=2021)
    f = next(f for f in manifest.files if f.kind == "facilities" and f.district == "622")
    outcome = run_intake(IntakeRequest(path=tmp_path / "in" / f.path, district="622", kind="facilities",
                                       received_at=dt.datetime.fromisoformat(f.planned_upload_at)),
                         engine=migrated_engine, settings=res.settings, campaign=res.campaign)
    assert outcome.data_docs and outcome.submission_id
    raw = Path(outcome.data_docs).read_text(encoding="utf-8")
    assert "https://maxcdn.bootstrapcdn.com/" in raw   # GX wrote CDN links: the portal must not serve them
    sup.add_accounts(migrated_engine, {"dieuphoi": ("coordinator", None)})

    with sup.serve(create_app(res)) as base, sync_playwright() as pw:
        host = base.split("//", 1)[1]
        browser = pw.chromium.launch(executable_path=chromium, args=sup.CHROMIUM_ARGS)
        try:
            context, page = sup.sign_in(browser, base, "dieuphoi")
            left, served = [], []

            def only_the_portal(route) -> None:   # noqa: ANN001
                if route.request.url.split("//", 1)[-1].split("/", 1)[0] == host:
                    served.append(route.request.url)
                    route.continue_()
                else:   # the network is cut: anything for another host is aborted, and recorded
                    left.append(route.request.url)
                    route.abort()

            context.route("**/*", only_the_portal)
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.emulate_media(color_scheme="light")
            response = page.goto(f"/nop/{outcome.submission_id}/data-docs/", wait_until="load")
            assert response is not None and response.status == 200
            csp = response.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "style-src 'self'" in csp and "font-src 'self'" in csp
            page.evaluate("document.fonts.ready.then(() => true)")
            styles = page.evaluate("""() => {
                const css = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
                return {sidebar: css('nav#navigation', 'backgroundColor'), navbar: css('nav.navbar', 'display'),
                        success: css('.text-success', 'color'), icon: css('.fas', 'fontFamily'),
                        iconFont: document.fonts.check('900 16px "Font Awesome 6 Free"'),
                        jquery: window.jQuery && window.jQuery.fn.jquery,
                        table: !!(window.jQuery && window.jQuery.fn.bootstrapTable),
                        vega: typeof window.vegaEmbed};
            }""")
            shot = tmp_path / "data-docs-offline.png"
            page.screenshot(path=str(shot), full_page=False)
            context.close()
        finally:
            browser.close()
    assert left == [], left                      # no request left the machine
    assert failed == [], failed                  # and every asset the page asked for was served
    assert any("/static/vendor/bootstrap@4.3.1/" in u for u in served)
    assert any("/static/vendor/fontawesome-free@6.6.0/webfonts/" in u for u in served)
    assert styles["sidebar"] == "rgb(248, 249, 250)", styles     # bootstrap's .bg-light
    assert styles["navbar"] == "flex", styles                    # bootstrap's .navbar
    assert styles["success"] == "rgb(40, 167, 69)", styles       # bootstrap's .text-success
    assert "Font Awesome 6 Free" in styles["icon"] and styles["iconFont"], styles
    assert styles["jquery"] == "3.7.1" and styles["table"] and styles["vega"] == "function", styles
