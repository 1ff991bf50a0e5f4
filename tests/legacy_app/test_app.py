"""The monitor through Flask's test client: forms, CSRF, validation, the API and both checkers."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from legacy_app import storage
from legacy_app.db import get_db
from legacy_app.simulator import Simulator
from tests.legacy_app.conftest import csrf_token, flashes

# The monitor's tests run in loopbridge strict mode: a stalled loop fails the test.
pytestmark = pytest.mark.loopbridge_strict(watchdog_ms=250)


def _add(client: FlaskClient, url: str, token: str, name: str = "") -> list[tuple[str, str]]:
    resp = client.post("/sites", data={"url": url, "name": name, "csrf_token": token},
                       follow_redirects=True)
    assert resp.status_code == 200
    return flashes(resp.get_data(as_text=True))


def test_dashboard_has_a_csrf_token_in_every_form(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    assert "No sites yet" in html and "not run yet" in html
    assert html.count("<form") == html.count('name="csrf_token"') == 2


def test_form_without_or_with_a_wrong_csrf_token_is_refused(client: FlaskClient, sim: Simulator) -> None:
    assert client.post("/sites", data={"url": sim.site_url(0)}).status_code == 400
    assert client.post("/sites", data={"url": sim.site_url(0), "csrf_token": "forged"}).status_code == 400
    assert client.post("/check-all", data={}).status_code == 400
    with client.application.app_context():
        assert storage.list_sites(get_db()) == []


def test_add_site_through_the_form(client: FlaskClient, sim: Simulator) -> None:
    token = csrf_token(client)
    assert _add(client, sim.site_url(1), token, "Shop") == [
        ("success", f"Added Shop ({sim.site_url(1)}).")]
    html = client.get("/").get_data(as_text=True)
    assert "Shop" in html and 'data-state="unknown"' in html


@pytest.mark.parametrize(("url", "message"), [
    ("", "Enter the URL of the site to monitor"),
    ("ftp://example.com/", "Only http:// and https:// URLs"),
    ("https://", "no host name"),
    ("https://exa mple.com/", "contains spaces"),
    ("https://user:pw@example.com/", "Remove the user name and password"),
    ("http://10.1.2.3/", "private or local address"),
    ("http://localhost:8080/", "private or local address"),
    ("https://example.com/" + "a" * 2000, "the limit is 2000"),
])
def test_invalid_urls_get_a_clear_message(client: FlaskClient, url: str, message: str) -> None:
    [(category, text)] = _add(client, url, csrf_token(client))
    assert category == "error" and message in text


def test_a_duplicate_is_refused_even_when_typed_differently(client: FlaskClient, sim: Simulator) -> None:
    token = csrf_token(client)
    _add(client, sim.site_url(2), token)
    [(category, text)] = _add(client, sim.site_url(2).replace("http://", "HTTP://"), token)
    assert category == "error" and "already monitored" in text


def test_delete_site_removes_it_and_its_history(client: FlaskClient, sim: Simulator) -> None:
    token = csrf_token(client)
    _add(client, sim.site_url(3), token, "Gone soon")
    client.post("/api/check-all", json={"checker": "legacy"})
    resp = client.post("/sites/1/delete", data={"csrf_token": token}, follow_redirects=True)
    assert flashes(resp.get_data(as_text=True)) == [("success", f"Deleted Gone soon ({sim.site_url(3)}).")]
    assert client.get("/sites/1").status_code == 404
    again = client.post("/sites/1/delete", data={"csrf_token": token}, follow_redirects=True)
    assert flashes(again.get_data(as_text=True))[0][0] == "error"
    with client.application.app_context():
        assert get_db().execute("SELECT COUNT(*) FROM checks").fetchone()[0] == 0


def _seed(client: FlaskClient, sim: Simulator) -> None:
    """Five healthy sites, one answering 503, one dropping the connection, one flaky."""
    urls = sim.site_urls(5) + [f"{sim.base_url}/status/503", f"{sim.base_url}/drop",
                               f"{sim.base_url}/flaky/uptime-test?fail=1"]
    requests.post(f"{sim.base_url}/flaky/reset", timeout=5)
    for url in urls:
        assert client.post("/api/sites", json={"url": url}).status_code == 201


@pytest.mark.parametrize("checker", ["legacy", "bridge"])
def test_check_all_records_every_result_and_the_run(client: FlaskClient, sim: Simulator, checker: str) -> None:
    _seed(client, sim)
    token = csrf_token(client)
    resp = client.post("/check-all", data={"checker": checker, "csrf_token": token}, follow_redirects=True)
    [(category, text)] = flashes(resp.get_data(as_text=True))
    assert category == "success" and "Checked 8 sites" in text and f"{checker} checker: 5 up, 3 down" in text
    [run] = client.get("/api/runs").get_json()["runs"]
    assert run["checker"] == checker and run["status"] == "finished"
    assert (run["planned"], run["recorded"], run["ok_count"]) == (8, 8, 5) and run["duration_ms"] > 0
    sites = {s["url"].rsplit("/", 1)[-1]: s for s in client.get("/api/sites").get_json()["sites"]}
    assert sites["0"]["state"] == "up" and sites["0"]["status_code"] == 200 and sites["0"]["latency_ms"] >= 4
    assert sites["503"]["state"] == "down" and sites["503"]["error"].startswith("HTTP 503")
    assert sites["drop"]["status_code"] is None and "Error" in sites["drop"]["error"]


def test_uptime_is_the_share_of_good_checks(client: FlaskClient, sim: Simulator) -> None:
    _seed(client, sim)
    for checker in ("legacy", "bridge"):
        assert client.post("/api/check-all", json={"checker": checker}).status_code == 200
    sites = {s["url"].rsplit("/", 1)[-1]: s for s in client.get("/api/sites").get_json()["sites"]}
    flaky = next(s for key, s in sites.items() if key.startswith("uptime-test"))
    assert (flaky["uptime_pct"], flaky["checks"], flaky["state"]) == (50.0, 2, "up")
    assert sites["1"]["uptime_pct"] == 100.0 and sites["503"]["uptime_pct"] == 0.0
    html = client.get("/").get_data(as_text=True)
    assert 'id="speedup"' in html and "50.0 %" in html


def test_unknown_checker_is_a_400(client: FlaskClient) -> None:
    token = csrf_token(client)
    assert client.post("/check-all", data={"checker": "threads", "csrf_token": token}).status_code == 400
    resp = client.post("/api/check-all", json={"checker": "threads"})
    assert resp.status_code == 400 and "choose one of legacy, bridge" in resp.get_json()["error"]


def test_api_sites_crud(client: FlaskClient, sim: Simulator) -> None:
    created = client.post("/api/sites", json={"url": sim.site_url(4), "name": "API"})
    assert created.status_code == 201 and created.get_json()["name"] == "API"
    site_id = created.get_json()["id"]
    assert client.post("/api/sites", json={"url": sim.site_url(4)}).status_code == 409
    bad = client.post("/api/sites", json={"url": "gopher://x/"})
    assert bad.status_code == 400 and "http://" in bad.get_json()["error"]
    assert client.post("/api/sites", json=["not", "an", "object"]).status_code == 400
    assert client.get(f"/api/sites/{site_id}").get_json()["state"] == "unknown"
    assert client.get(f"/api/sites/{site_id}/checks").get_json() == {"checks": []}
    assert client.get(f"/api/sites/{site_id}/checks?limit=0").status_code == 400
    assert client.delete(f"/api/sites/{site_id}").status_code == 204
    assert client.get(f"/api/sites/{site_id}").status_code == 404
    assert client.delete(f"/api/sites/{site_id}").get_json() == {"error": f"there is no site {site_id}"}


def test_api_posts_must_be_json(client: FlaskClient, sim: Simulator) -> None:
    resp = client.post("/api/sites", data={"url": sim.site_url(0)})
    assert resp.status_code == 415 and "application/json" in resp.get_json()["error"]
    assert client.post("/api/check-all", data="").status_code == 415


def test_probe_form_checks_one_site_on_the_shared_loop(client: FlaskClient, sim: Simulator) -> None:
    token = csrf_token(client)
    _add(client, sim.site_url(6), token, "Probed")
    resp = client.post("/sites/1/probe", data={"csrf_token": token}, follow_redirects=True)
    html = resp.get_data(as_text=True)
    [(category, text)] = flashes(html)
    assert category == "success" and text.startswith("Probed is up: HTTP 200 in")
    assert ">probe<" in html
    assert client.post("/sites/99/probe", data={"csrf_token": token}).status_code == 404
    assert client.post("/sites/1/probe").status_code == 400  # no CSRF token


def test_probe_api_returns_the_stored_result(client: FlaskClient, sim: Simulator) -> None:
    site_id = client.post("/api/sites", json={"url": f"{sim.base_url}/status/500"}).get_json()["id"]
    body = client.post(f"/api/sites/{site_id}/probe", json={}).get_json()
    assert (body["ok"], body["status_code"]) == (False, 500)
    [check] = client.get(f"/api/sites/{site_id}/checks").get_json()["checks"]
    assert check["run_id"] is None and check["status_code"] == 500
    assert client.post("/api/sites/99/probe", json={}).status_code == 404


@pytest.mark.parametrize(("config", "message"), [
    ({"CHECKER": "threads"}, "CHECKER must be one of"),
    ({"CHECK_TIMEOUT": 0}, "CHECK_TIMEOUT"),
    ({"CHECK_CONCURRENCY": 0}, "CHECK_CONCURRENCY"),
    ({"SSRF_ALLOW": 5}, "SSRF_ALLOW"),
])
def test_bad_config_is_refused_with_the_key_named(make_app: Callable[..., Flask], config: dict[str, object],
                                                  message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_app(**config)


def test_factory_rejects_a_config_that_is_not_a_dict() -> None:
    from legacy_app import create_app

    with pytest.raises(TypeError, match="dict"):
        create_app([("CHECKER", "legacy")])  # type: ignore[arg-type]


def test_defaults_put_database_and_secret_in_the_instance_folder(tmp_path: object) -> None:
    from pathlib import Path

    from legacy_app import create_app

    instance = Path(str(tmp_path)) / "inst"
    app = create_app({"INSTANCE_PATH": str(instance)})
    assert app.config["DATABASE"] == str(instance / "legacy_app.sqlite3")
    assert (instance / "secret_key").read_text() == app.config["SECRET_KEY"]
    assert app.config["CHECKER"] == "legacy" and "loopbridge" in app.extensions


def test_both_checkers_refuse_private_addresses_not_allowed(make_app: Callable[..., Flask],
                                                            sim: Simulator) -> None:
    app = make_app(SSRF_ALLOW=[])
    with app.app_context():
        conn = get_db()
        storage.add_site(conn, sim.site_url(0), "by address")
        storage.add_site(conn, sim.site_url(1).replace("127.0.0.1", "localhost"), "by name")
    client = app.test_client()
    for checker in ("bridge", "legacy"):
        run = client.post("/api/check-all", json={"checker": checker}).get_json()
        assert (run["recorded"], run["ok_count"]) == (2, 0), checker
        errors = [s["error"] for s in client.get("/api/sites").get_json()["sites"]]
        assert all(e.startswith("BlockedAddress: refused to connect") for e in errors), (checker, errors)
