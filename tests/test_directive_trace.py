"""The directive as a checked specification (docs/directive.md): every obligation's `config:` paths exist,
every deadline, party, infrastructure item and communication rule of the campaign configuration is named
by an obligation or marked `source: province`, the quoted words are the directive's own, and a deadline
the directive dates falls on the date its words give."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from pathlib import Path

import pytest
import yaml

from campaign.config_files import DEFAULT_CAMPAIGN_FILE, INPUT_KINDS_FILE

DOCS = Path(__file__).resolve().parents[1] / "docs"
SPEC = DOCS / "directive.md"
TEXT = DOCS.parent / "config" / "directive-1038-UBND-KGVX.txt"   # the directive itself, kept with the repository


def _norm(s: str) -> str:
    s = unicodedata.normalize("NFC", s).replace("<", "").replace(">", "").replace("**", "")
    return re.sub(r"\s+", " ", s).strip()


def obligations() -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    current = None
    for line in SPEC.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^### (\S+) (.+)$", line)
        if m:
            current = m.group(1)
            out[current] = {"title": m.group(2)}
            continue
        m = re.match(r"^- (owed by|by|words|lives in|config): (.*)$", line)
        if m and current:
            out[current][m.group(1)] = m.group(2)
    return out


OBLIGATIONS = obligations()
CAMPAIGN = yaml.safe_load(DEFAULT_CAMPAIGN_FILE.read_text(encoding="utf-8"))
KINDS = yaml.safe_load(INPUT_KINDS_FILE.read_text(encoding="utf-8"))


def named_paths() -> set[str]:
    return {p.strip() for o in OBLIGATIONS.values() for p in o.get("config", "").split(",") if p.strip()}


def resolve(path: str):
    node = KINDS if path.startswith("kinds.") else CAMPAIGN
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list):
            found = [x for x in node if isinstance(x, dict) and x.get("id") == part]
            if not found:
                raise KeyError(path)
            node = found[0]
        else:
            raise KeyError(path)
    return node


def test_every_section_of_the_directive_has_its_obligations():
    ids = set(OBLIGATIONS)
    for prefix in ("L1.", "L2.", "L3.", "L4.", "A-I", "A-II.1", "A-II.2", "A-II.3", "A-II.4"):
        assert any(i.startswith(prefix) for i in ids), prefix
    for oid, o in OBLIGATIONS.items():
        assert {"owed by", "by", "words", "lives in"} <= set(o), oid
        assert "not modelled" in o["lives in"] or o.get("config"), f"{oid}: where does it live?"


@pytest.mark.parametrize("oid", sorted(OBLIGATIONS))
def test_quoted_words_are_the_directives(oid):
    text = _norm(TEXT.read_text(encoding="utf-8"))
    words = _norm(OBLIGATIONS[oid]["words"].strip().strip('"'))
    for fragment in (f.strip(" .;,") for f in words.split("...")):
        if fragment:
            assert fragment in text, f"{oid}: not in the directive: {fragment!r}"


@pytest.mark.parametrize("path", sorted(named_paths()))
def test_every_named_config_path_exists(path):
    resolve(path)


def _by(node) -> str | None:
    source = node.get("source") if isinstance(node, dict) else None
    return source.get("by") if isinstance(source, dict) else source


def test_every_deadline_is_traced_or_the_provinces_own():
    named = named_paths()
    for d in CAMPAIGN["deadlines"]:
        assert _by(d) in ("directive", "province"), (d["id"], "needs source: directive | province")
        if _by(d) == "directive":
            assert f"deadlines.{d['id']}" in named, f"deadline {d['id']} says directive but no obligation names it"
        else:   # the province's own: the docs say so too
            assert d["id"] in SPEC.read_text(encoding="utf-8"), d["id"]


def test_a_dated_deadline_falls_on_the_date_of_its_words():
    by_path = {p.strip(): o for o in OBLIGATIONS.values() for p in o.get("config", "").split(",")}
    for d in CAMPAIGN["deadlines"]:
        if _by(d) != "directive":
            continue
        o = by_path[f"deadlines.{d['id']}"]
        due = dt.datetime.fromisoformat(str(d["due_at"]))
        # "trước ngày 29/7/2021": due at the start of that day, Vietnam time
        assert (due.hour, due.minute) == (0, 0) and due.utcoffset() == dt.timedelta(hours=7), d["id"]
        assert f"{due.day}/{due.month}/{due.year}" in o["words"], (d["id"], o["words"])


def test_every_party_rule_and_recipient_is_traced():
    named = named_paths()
    for party, spec in CAMPAIGN["parties"].items():
        assert _by(spec) in ("directive", "province"), party
        if _by(spec) == "directive":
            assert f"parties.{party}" in named, f"party {party} is in no obligation"
    for item in CAMPAIGN["infrastructure_rules"]:
        assert f"infrastructure_rules.{item}" in named, f"infrastructure item {item} is in no obligation"
    assert "readiness.communication" in named
    assert "reports.recipients.province" in named and "reports.recipients.district" in named


def test_the_directives_recipients_of_the_doh_report():
    """L1.1: "... gửi Kế hoạch này về Bộ Y tế, Bộ Thông tin và Truyền thông qua địa chỉ thư điện tử:
    tiemchungcovid.cntt@moh.gov.vn và dnvinh@mic.gov.vn." """
    province = [r if isinstance(r, str) else r.get("address") for r in CAMPAIGN["reports"]["recipients"]["province"]]
    assert {"tiemchungcovid.cntt@moh.gov.vn", "dnvinh@mic.gov.vn"} <= set(province)


def test_qr_scanners_are_if_available():
    """A-II.1a: "... máy in, máy quét QR (nếu có)." """
    rule = CAMPAIGN["infrastructure_rules"]["qr_scanners"]
    assert rule.get("level") == "if_available"
    assert all(CAMPAIGN["infrastructure_rules"][k].get("level", "required") == "required"
               for k in ("computers", "printers", "internet_lines"))
