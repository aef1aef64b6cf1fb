"""The portal's sign-in limits under real concurrency, per client address and per account; ids beyond 64 bits
in paths; the demo's file of passwords. On SQLite and on PostgreSQL (`migrated_engine`), through the real
portal: uvicorn in a thread for real HTTP (concurrent requests, keep-alive connections), a TestClient where
only the client address has to vary.

Password checks are counted with a spy around the real argon2 hasher (every check still runs): what the
limits promise is how many passwords of an account are ever checked.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import re
import stat
import threading
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import text
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from campaign import accounts
from tests.portal_e2e_support import serve
from tests.portal_http_support import BASE, NOW, PASSWORD, PortalWorld, alert_in, csrf_in, login, portal_world

SAME_MESSAGE = accounts.WRONG
NOT_FOUND_TEXT = "Không tìm thấy trang này"


# ---------------------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture()
def make_world(migrated_engine, campaign_home, monkeypatch):
    """The portal over `migrated_engine` (SQLite, then PostgreSQL) with the three test accounts; options:
    sign-in limits, the proxies it trusts."""
    from campaign.config import load_campaign
    from campaign.resources import Resources
    from campaign.settings import Settings
    from faces.portal.app import create_app

    def make(*, limits: Any = None, trusted_proxies: str | None = None) -> PortalWorld:
        monkeypatch.setenv("CAMPAIGN_NOW", NOW)
        if trusted_proxies is not None:
            monkeypatch.setenv("CAMPAIGN_PORTAL_TRUSTED_PROXIES", trusted_proxies)
        settings = Settings()
        world = portal_world(Resources(settings, load_campaign(settings.config), migrated_engine))
        if limits is not None:
            world.app = create_app(world.res, prefect_ui="http://prefect.test", sign_in_limits=limits)
        return world

    return make


@pytest.fixture()
def checked(monkeypatch) -> list[str]:
    """The passwords checked against a real account's hash (the dummy check of a refusal is not one)."""
    real = accounts._hasher
    seen: list[str] = []
    lock = threading.Lock()

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        def verify(self, hash_: str, password: str) -> bool:
            if hash_ != accounts._DUMMY_HASH:
                with lock:
                    seen.append(password)
            return real.verify(hash_, password)

    monkeypatch.setattr(accounts, "_hasher", Counting())
    return seen


def burst(base: str, attempts: list[tuple[str, str, dict[str, str]]]) -> list[int]:
    """Each (username, password, headers) from its own browser (connection, login form), all sent at once."""
    browsers = [httpx.Client(base_url=base, timeout=600, follow_redirects=False) for _ in attempts]
    try:
        tokens = [csrf_in(b.get("/dang-nhap").text) for b in browsers]
        statuses: list[int] = [0] * len(attempts)
        start = threading.Barrier(len(attempts))

        def send(i: int) -> None:
            username, password, headers = attempts[i]
            start.wait()
            statuses[i] = browsers[i].post("/dang-nhap", headers=headers, data={
                "username": username, "password": password, "csrf_token": tokens[i]}).status_code

        threads = [threading.Thread(target=send, args=(i,)) for i in range(len(attempts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return statuses
    finally:
        for b in browsers:
            b.close()


def browser_at(app: Any, address: str) -> TestClient:
    return TestClient(app, base_url=BASE, follow_redirects=False, client=(address, 40000))


def try_at(app: Any, address: str, username: str, password: str) -> Any:
    b = browser_at(app, address)
    page = b.get("/dang-nhap")
    return b.post("/dang-nhap", data={"username": username, "password": password, "csrf_token": csrf_in(page.text)})


def sign_in_outcomes(engine: Any, username: str | None = None) -> dict[str, int]:
    """outcome -> number of sign-in events (of one account, or all)."""
    where = "action IN ('sign_in', 'sign_in_failed')" + (" AND username = :u" if username else "")
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT outcome, COUNT(*) FROM audit_events WHERE {where} GROUP BY outcome"),
                            {"u": username}).all()
    return {outcome: n for outcome, n in rows}


# ---------------------------------------------------------------------------------------------------------
# 1. Guesses sent at once: no more passwords checked than the limit
# ---------------------------------------------------------------------------------------------------------


def test_guesses_sent_at_once_from_one_address_check_no_more_passwords_than_the_limit(make_world, checked):
    """15 wrong passwords and the right one at once, from one address: each attempt is counted under a lock
    before its password is checked, so at most MAX_FAILED_LOGINS wrong ones are ever checked (before the
    fix, PostgreSQL checked all 16 and let the right one in every time)."""
    world = make_world()
    right = PASSWORD["ttyt622"]
    with serve(world.app) as base:
        statuses = burst(base, [("ttyt622", f"sai-mat-khau-{i:02d}", {}) for i in range(15)]
                         + [("ttyt622", right, {})])
    wrong = [p for p in checked if p != right]
    print(f"\nsign-in burst: {len(checked)} of 16 passwords checked, right one accepted: {303 in statuses}")
    assert len(wrong) <= accounts.MAX_FAILED_LOGINS, (len(checked), statuses)
    assert accounts.MAX_FAILED_LOGINS <= len(checked) <= accounts.MAX_FAILED_LOGINS + 1
    # the right password gets in only if it was among the attempts checked; every other attempt is refused
    assert statuses.count(303) == (1 if right in checked else 0)
    assert set(statuses) <= {401, 303}
    # the audit log tells the same: each attempt once, checked or refused, none left pending
    outcomes = sign_in_outcomes(world.engine, "ttyt622")
    assert outcomes.get("wrong_password", 0) == len(wrong) and outcomes.get("ok", 0) == statuses.count(303)
    assert outcomes.get("locked", 0) == 16 - len(checked) and "pending" not in outcomes


def test_guesses_from_many_addresses_at_once_stop_at_the_account_wide_limit(make_world, checked):
    """Distributed guessing (one attempt per address, behind a trusted proxy) is bounded by the account-wide
    limit; once reached, the account is locked for every address (shown on the accounts page) until a
    coordinator lifts it."""
    limits = accounts.SignInLimits(per_account=6)
    world = make_world(limits=limits, trusted_proxies="127.0.0.1")
    right = PASSWORD["ttyt622"]
    with serve(world.app) as base:
        statuses = burst(base, [("ttyt622", f"sai-mat-khau-{i:02d}", {"X-Forwarded-For": f"198.51.100.{i + 1}"})
                                for i in range(15)] + [("ttyt622", right, {"X-Forwarded-For": "198.51.100.99"})])
        wrong = [p for p in checked if p != right]
        assert len(wrong) <= limits.per_account and len(checked) <= limits.per_account + 1, statuses
        assert statuses.count(303) == (1 if right in checked else 0)
        # more guesses from fresh addresses until the account-wide limit is reached, then the right
        # password from yet another address is refused too
        with httpx.Client(base_url=base, timeout=600, follow_redirects=False) as b:
            def attempt(password: str, address: str) -> httpx.Response:
                token = csrf_in(b.get("/dang-nhap").text)
                return b.post("/dang-nhap", headers={"X-Forwarded-For": f"1.2.3.4, {address}"},
                              data={"username": "ttyt622", "password": password, "csrf_token": token})

            for i in range(limits.per_account - len(wrong)):
                assert attempt(f"doan-them-{i:02d}", f"203.0.113.{i + 1}").status_code == 401
            before = len(checked)
            refused = attempt(right, "203.0.113.200")
            assert refused.status_code == 401 and alert_in(refused.text) == SAME_MESSAGE
            assert len(checked) == before   # refused without checking it
            assert len([p for p in checked if p != right]) == limits.per_account
        coordinator = login(world.app, "syt.dieuphoi")
        users_page = coordinator.get("/tai-khoan").text
        assert "tạm khóa do nhập sai" in users_page
        token = csrf_in(users_page)
        assert coordinator.post(f"/tai-khoan/{world.users['ttyt622']}/mo", data={"csrf_token": token}).status_code == 303
        assert try_at(world.app, "203.0.113.201", "ttyt622", right).status_code == 303
    # the address recorded is the one the proxy forwarded, never the client's own claim before it
    with world.engine.connect() as conn:
        clients = set(conn.execute(text("SELECT DISTINCT client FROM audit_events WHERE username = 'ttyt622' "
                                         "AND action IN ('sign_in', 'sign_in_failed')")).scalars())
    assert "1.2.3.4" not in clients and "127.0.0.1" not in clients and "203.0.113.200" in clients


# ---------------------------------------------------------------------------------------------------------
# 2. A stranger at one address, the address's throttle
# ---------------------------------------------------------------------------------------------------------


def test_a_stranger_at_one_address_locks_only_themself_out_and_is_then_throttled(make_world, checked):
    limits = accounts.SignInLimits(per_client=6, per_account_client=3)
    world = make_world(limits=limits)
    stranger, clerk = "203.0.113.9", "10.0.0.5"
    for i in range(limits.per_account_client):
        assert try_at(world.app, stranger, "ttyt622", f"doan-mo-{i}").status_code == 401
    # the account is locked for the stranger's address, even with the right password, with the same answer
    locked = try_at(world.app, stranger, "ttyt622", PASSWORD["ttyt622"])
    assert locked.status_code == 401 and alert_in(locked.text) == SAME_MESSAGE
    assert PASSWORD["ttyt622"] not in checked
    # ... but not for the real user at their own address
    assert try_at(world.app, clerk, "ttyt622", PASSWORD["ttyt622"]).status_code == 303
    # the stranger tries other accounts and names that are not accounts: the address's own limit (any
    # account) is reached, and then it is told how long to wait, and nothing more is checked
    assert try_at(world.app, stranger, "ttyt633", "doan-mo-x").status_code == 401
    typed_as_name = "Mat-Khau-Go-Nham 2021"   # a password typed into the name field: never kept
    assert try_at(world.app, stranger, typed_as_name, "doan-mo-y").status_code == 401
    before = len(checked)
    throttled = try_at(world.app, stranger, "syt.dieuphoi", PASSWORD["syt.dieuphoi"])
    assert throttled.status_code == 429
    message = alert_in(throttled.text)
    minutes = int(re.search(r"xin chờ (\d+) phút", message).group(1))
    assert 1 <= minutes <= limits.client_minutes
    assert 0 < int(throttled.headers["retry-after"]) <= limits.client_minutes * 60
    assert len(checked) == before
    # another address is not throttled; the stranger's address is again after the window
    assert try_at(world.app, clerk, "ttyt633", PASSWORD["ttyt633"]).status_code == 303
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=limits.client_minutes, seconds=1)
    with Session(world.engine) as s, s.begin():
        assert accounts.authenticate(s, "syt.dieuphoi", PASSWORD["syt.dieuphoi"], client=stranger, limits=limits,
                                     now=later).username == "syt.dieuphoi"
    outcomes = sign_in_outcomes(world.engine)
    assert outcomes["throttled"] == 1 and outcomes["locked"] == 1 and outcomes["unknown_account"] == 1
    with world.engine.connect() as conn:
        dump = json.dumps([list(map(str, r)) for r in conn.execute(text("SELECT * FROM audit_events")).all()])
    assert typed_as_name not in dump and typed_as_name.lower() not in dump
    assert not any(p in dump for p in PASSWORD.values())


def test_the_addresses_of_one_ipv6_64_are_one_client(make_world, checked):
    """Issue 18, C8 (a): one subscriber holds a whole IPv6 /64, so its addresses are one client for the
    limits and for the audit log; an IPv4-mapped IPv6 address is its IPv4 address. Before: each address
    of the /64 was a client of its own, and 13 of them (8 guesses each, the default limits) locked the real
    clerk out at every address."""
    limits = accounts.SignInLimits(per_account_client=3, per_account=12)
    world = make_world(limits=limits)
    right = PASSWORD["ttyt622"]
    for i in range(13):
        for k in range(limits.per_account_client):
            assert try_at(world.app, f"2001:db8::{i + 1:x}", "ttyt622", f"doan-{i}-{k}").status_code in (401, 429)
    # one client: its own lock after per_account_client guesses, then its throttle; the account's is far
    assert len(checked) == limits.per_account_client
    assert try_at(world.app, "2001:db8::ffff", "ttyt622", right).status_code in (401, 429)   # still the /64
    assert try_at(world.app, "203.0.113.7", "ttyt622", right).status_code == 303
    # IPv4 reached over IPv6 (::ffff:a.b.c.d) is that IPv4 address: its lock holds for either form
    for k in range(limits.per_account_client):
        assert try_at(world.app, "::ffff:198.51.100.7", "ttyt633", f"doan-{k}").status_code == 401
    locked = try_at(world.app, "198.51.100.7", "ttyt633", PASSWORD["ttyt633"])
    assert locked.status_code == 401 and alert_in(locked.text) == SAME_MESSAGE
    assert PASSWORD["ttyt633"] not in checked
    with world.engine.connect() as conn:
        clients = set(conn.execute(text("SELECT DISTINCT client FROM audit_events WHERE action IN "
                                        "('sign_in', 'sign_in_failed')")).scalars())
    assert clients == {"2001:db8::/64", "203.0.113.7", "198.51.100.7"}


def test_guessing_from_many_networks_does_not_lock_the_clerk_out_where_she_signed_in_before(make_world, checked):
    """Issue 18, C8 (b): guesses spread over many networks fill the account-wide window; it then refuses
    every client, unchecked, except one from which the account signed in before (a known client), which
    only its own per-client lock limits. A burst of 16 wrong passwords at once from the known client
    checks no more than that lock allows. Before: the account-wide lock refused the clerk everywhere."""
    limits = accounts.SignInLimits(per_account_client=3, per_account=6)
    world = make_world(limits=limits, trusted_proxies="127.0.0.1")
    right, office = PASSWORD["ttyt622"], "203.0.113.7"
    assert try_at(world.app, office, "ttyt622", right).status_code == 303   # she worked from the office
    for i in range(13):   # 13 networks (IPv6 /64s), as many guesses as each may make
        for k in range(limits.per_account_client):
            assert try_at(world.app, f"2001:db8:0:{i + 1:x}::1", "ttyt622", f"doan-{i}-{k}").status_code == 401
    wrong = [p for p in checked if p != right]
    assert len(wrong) == limits.per_account   # the account-wide bound on guesses from unknown clients
    # the right password from a network the account never signed in from: refused, not even checked
    before = len(checked)
    refused = try_at(world.app, "198.51.100.50", "ttyt622", right)
    assert refused.status_code == 401 and alert_in(refused.text) == SAME_MESSAGE and len(checked) == before
    # ... but the clerk at her office gets in, during the lock
    assert try_at(world.app, office, "ttyt622", right).status_code == 303
    # a stranger at her office (same address) gets no more than the office's own lock: 16 at once
    with serve(world.app) as base:
        statuses = burst(base, [("ttyt622", f"o-van-phong-{i:02d}", {"X-Forwarded-For": office})
                                for i in range(16)])
    assert set(statuses) == {401}
    assert len([p for p in checked if p.startswith("o-van-phong")]) == limits.per_account_client
    locked = try_at(world.app, office, "ttyt622", right)
    assert locked.status_code == 401 and alert_in(locked.text) == SAME_MESSAGE


def test_the_one_answer_tells_the_rule_of_every_scope():
    """Issue 18, C8 (c): the answer to a wrong name, a wrong password or a locked account is one, and what
    it says about locks is true of each scope: a lock for the network that typed wrong (at most the
    account-client window) and one for every network the account never signed in from (at most the
    account-wide window); it names no account and no count of this one."""
    limits = accounts.SignInLimits()
    message = accounts.WRONG
    assert message == accounts.wrong_message(limits)
    assert f"tối đa {limits.account_client_minutes} phút" in message
    assert f"tối đa {limits.account_minutes} phút" in message
    assert f"chưa đăng nhập được vào tài khoản này (bằng mật khẩu hiện tại, trong {limits.known_client_days} ngày" \
        in message and "tạm khóa" in message
    other = accounts.wrong_message(accounts.SignInLimits(account_client_minutes=20, account_minutes=120,
                                                         known_client_days=30))
    assert "tối đa 20 phút" in other and "tối đa 120 phút" in other and "trong 30 ngày" in other


def test_the_sign_in_rule_as_a_pure_function():
    limits = accounts.SignInLimits(per_client=3, client_minutes=10, per_account_client=2, account_client_minutes=15,
                                   per_account=4, account_minutes=60)
    now = dt.datetime(2021, 7, 28, 3, 0, tzinfo=dt.UTC)
    ago = [now - dt.timedelta(minutes=m) for m in (9, 5, 1)]

    def verdict(client=(), pair=(), account=()) -> accounts.Verdict:
        return accounts.sign_in_verdict(client_times=list(client), pair_times=list(pair),
                                        account_times=list(account), limits=limits, now=now)

    assert verdict() == accounts.Verdict(True)
    assert verdict(client=ago[1:], pair=ago[2:], account=ago) == accounts.Verdict(True)
    # the address's window is full: it has room again when its oldest failure leaves the window
    assert verdict(client=ago) == accounts.Verdict(False, accounts.CLIENT, ago[0] + dt.timedelta(minutes=10))
    assert verdict(client=ago, pair=ago[1:]).scope == accounts.CLIENT
    assert verdict(pair=ago[1:]) == accounts.Verdict(False, accounts.ACCOUNT_CLIENT, ago[1] + dt.timedelta(minutes=15))
    # both account scopes full: the later of the two
    full = [now - dt.timedelta(minutes=m) for m in (40, 9, 5, 1)]
    assert verdict(pair=ago[1:], account=full) == accounts.Verdict(False, accounts.ACCOUNT,
                                                                   full[0] + dt.timedelta(minutes=60))
    # a known client (the account signed in from it before) is not held by the account-wide scope
    known = accounts.sign_in_verdict(client_times=[], pair_times=ago[2:], account_times=full, limits=limits,
                                     now=now, known_client=True)
    assert known == accounts.Verdict(True)
    assert accounts.sign_in_verdict(client_times=[], pair_times=ago[1:], account_times=full, limits=limits, now=now,
                                    known_client=True).scope == accounts.ACCOUNT_CLIENT
    assert accounts.room_at([], 1, dt.timedelta(minutes=1)) is None
    assert accounts.room_at(ago, 4, dt.timedelta(minutes=10)) is None
    assert accounts.minutes_to_wait(now + dt.timedelta(seconds=61), now) == 2
    assert accounts.minutes_to_wait(now + dt.timedelta(seconds=1), now) == 1


def test_the_client_address_is_read_from_a_trusted_proxy_only():
    from faces.portal.state import client_address, trusted_addresses

    trusted = trusted_addresses(" 127.0.0.1, 10.0.0.2 , not-an-address, ::1")
    assert trusted == {"127.0.0.1", "10.0.0.2", "::1"}
    assert client_address("203.0.113.5", "1.1.1.1", trusted) == "203.0.113.5"      # not a proxy: ignored
    assert client_address("127.0.0.1", None, trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", "9.9.9.9, 198.51.100.7", trusted) == "198.51.100.7"
    assert client_address("127.0.0.1", "198.51.100.7, 10.0.0.2", trusted) == "198.51.100.7"   # two proxies
    assert client_address("127.0.0.1", "198.51.100.7, garbage", trusted) == "127.0.0.1"
    assert client_address("::1", "2001:db8::1", trusted) == "2001:db8::/64"   # the client is its /64
    assert client_address(None, "1.1.1.1", trusted) is None
    # a proxy reached over IPv4-mapped IPv6 is still the trusted proxy; the client, its IPv4 address
    assert client_address("::ffff:127.0.0.1", "::ffff:198.51.100.7", trusted) == "198.51.100.7"


def test_the_client_key():
    """What throttling and the audit log call a client (campaign.audit.client_key): one function."""
    from campaign.audit import client_key

    assert client_key("2001:db8:1:2:3:4:5:6") == client_key("2001:DB8:1:2::ffff") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") == "2001:db8:1:3::/64"
    assert client_key("2001:db8:1:2::/64") == "2001:db8:1:2::/64"   # a key is its own key
    assert client_key("fe80::1%eth0") == "fe80::/64"
    assert client_key("::ffff:198.51.100.7") == client_key("198.51.100.7") == "198.51.100.7"
    assert client_key("testclient") == "testclient" and client_key(None) is None
    assert len(client_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")) <= 64


# ---------------------------------------------------------------------------------------------------------
# 3. Ids beyond 64 bits
# ---------------------------------------------------------------------------------------------------------


def _id_routes(app: Any) -> list[tuple[str, str, list[str]]]:
    """(method, path template, the int path parameters) of every route with an integer id in its path."""
    found = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        ints = [p.name for p in route.dependant.path_params if p.field_info.annotation is int]
        if ints:
            found.extend((method, route.path, ints) for method in sorted(route.methods))
    return found


def _fill(template: str, ints: list[str], value: int) -> str:
    path = template
    for name in ints:
        path = path.replace("{" + name + "}", str(value))
    return path.replace("{fmt}", "pdf").replace("{rest:path}", "index.html")


def test_ids_beyond_64_bits_are_not_found_and_keep_the_connection(make_world):
    """Every path with an integer id answers 404 in Vietnamese for an id no database holds (2**64, 10**30,
    2**63, past PostgreSQL's INTEGER, 0, -1) on the same keep-alive connection (before: OverflowError or
    "integer out of range", HTTP 500, connection dropped); the largest id the columns hold is looked up."""
    from campaign.store.models import PortalJob, PortalUser, ReportRecord, Submission
    from faces.portal.state import MAX_ID

    # the bound is the ids' column type: if one of them grows to BIGINT, the bound may grow with it
    assert {type(m.__table__.c.id.type).__name__ for m in (Submission, PortalJob, ReportRecord, PortalUser)} == {
        "Integer"} and MAX_ID == 2**31 - 1
    world = make_world()
    routes = _id_routes(world.app)
    assert {path for _, path, _ in routes} >= {"/nop/{sub_id}", "/viec/{job_id}", "/viec/{job_id}/trang-thai",
                                               "/bao-cao/{report_id}.{fmt}", "/bao-cao/{report_id}/duyet",
                                               "/tai-khoan/{user_id}/khoa", "/nop/{sub_id}/rut"}
    with serve(world.app) as base:
        with httpx.Client(base_url=base, follow_redirects=False, timeout=120) as b:
            token = csrf_in(b.get("/dang-nhap").text)
            assert b.post("/dang-nhap", data={"username": "syt.dieuphoi", "password": PASSWORD["syt.dieuphoi"],
                                              "csrf_token": token}).status_code == 303
            cookie = "; ".join(f"{k}={v}" for k, v in b.cookies.items())
            csrf = csrf_in(b.get("/tai-khoan").text)
        where = urlsplit(base)
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=120)
        try:
            conn.connect()
            sock = conn.sock
            for value in (2**64, 10**30, 2**63, 2**63 - 1, MAX_ID + 1, 0, -1):
                for method, template, ints in routes:
                    path = _fill(template, ints, value)
                    body = f"csrf_token={csrf}" if method == "POST" else None
                    conn.request(method, path, body=body, headers={
                        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
                    response = conn.getresponse()
                    content = response.read().decode()
                    assert response.status == 404, (method, path, response.status)
                    if path.endswith("/trang-thai"):
                        assert json.loads(content) == {"error": "not_found"}
                    else:
                        assert NOT_FOUND_TEXT in content, (method, path)
                    assert conn.sock is sock, f"the connection was dropped after {method} {path}"
            # the largest id there can be reaches the database, which has no such row
            for method, template, ints in routes:
                if method == "GET":
                    conn.request("GET", _fill(template, ints, MAX_ID), headers={"Cookie": cookie})
                    response = conn.getresponse()
                    response.read()
                    assert response.status == 404 and conn.sock is sock, template
        finally:
            conn.close()


# ---------------------------------------------------------------------------------------------------------
# 4. The demo's passwords file
# ---------------------------------------------------------------------------------------------------------


def test_the_demo_accounts_file_says_it_is_a_demo_secret_and_is_owner_only(campaign_home, tmp_path):
    from campaign.resources import get_resources
    from faces.portal import demo

    out = tmp_path / "demo" / "portal-accounts.csv"
    created = demo.ensure_accounts(get_resources(), out)
    assert len(created) == 18   # the coordinator and the 17 districts
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == demo.DEMO_SECRET_NOTE and "DEMO SECRET" in lines[0]
    assert lines[1] == "username,password" and len(lines) == 2 + 18
    # a file left with wider permissions by an older demo is narrowed; lines are appended under one header
    out.chmod(0o644)
    demo.write_demo_secrets(out, {"huyen-them": "mat-khau-them-1"})
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines.count("username,password") == 1 and lines[-1] == "huyen-them,mat-khau-them-1"
