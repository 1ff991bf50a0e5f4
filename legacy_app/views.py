"""The HTML pages: the dashboard, a site's history, and the forms that change them.

These routes are as the monitor always had them; the migration left them alone. The one
new route, the probe, is an ``async def`` running on the shared loop (see
:mod:`legacy_app.probe`).
"""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response

from legacy_app import dashboard as board
from legacy_app import storage
from legacy_app.checkers import CHECKERS, run_check_all
from legacy_app.db import get_db
from legacy_app.probe import probe_site
from legacy_app.validation import InvalidSite, normalize_name, normalize_url

bp = Blueprint("views", __name__)


def requested_checker() -> str:
    """The checker asked for by the form or ``?checker=``, else config ``CHECKER``."""
    name = request.values.get("checker") or current_app.config["CHECKER"]
    if name not in CHECKERS:
        abort(400, description=f"unknown checker {name!r}; choose one of {', '.join(CHECKERS)}")
    return str(name)


@bp.get("/")
def dashboard() -> str:
    """Every site with its state (down first; ``?status=`` filters, ``?sort=&order=`` sorts),
    the last run of each checker side by side, a check-all in progress, and the forms."""
    conn = get_db()
    all_sites = storage.site_statuses(conn)
    status = request.args.get("status", "all")
    sort = request.args.get("sort", "status")
    order = "desc" if request.args.get("order") == "desc" else "asc"
    sites = board.select_sites(all_sites, status, sort, order)
    last = storage.last_runs(conn)
    for run in last.values():
        if run is not None:
            run.update(storage.run_latencies(conn, run["id"]))
    if last["bridge"] is not None:
        last["bridge"]["concurrency"] = current_app.config["CHECK_CONCURRENCY"]
    speedup = compared = None
    if last["legacy"] and last["bridge"] and last["bridge"]["duration_ms"]:
        speedup = last["legacy"]["duration_ms"] / last["bridge"]["duration_ms"]
        compared = board.comparison(last["legacy"], last["bridge"],
                                    storage.compare_runs(conn, last["legacy"]["id"], last["bridge"]["id"]))
    return render_template("dashboard.html", sites=sites, last=last, speedup=speedup, compared=compared,
                           latency_note=board.latency_note(last["legacy"], last["bridge"]),
                           counts=board.count_states(all_sites), status=status if status in board.FILTERS else "all",
                           sort=sort if sort in board.SORTS else "status", order=order,
                           running=storage.running_run(conn), newest_run_id=storage.newest_run_id(conn),
                           checker=current_app.config["CHECKER"], checkers=list(CHECKERS))


@bp.get("/report")
def migration_report() -> Response:
    """The migration report of this app (``loopbridge report`` with its live figures), when
    the demo has written one (``REPORT_PATH``); 404 with a hint otherwise."""
    path = current_app.config.get("REPORT_PATH")
    if not path or not Path(path).is_file():
        abort(404, description="no migration report yet: `loopbridge demo` writes one after its first "
                               "checks, or run `loopbridge report legacy_app --format html -o report.html`.")
    return send_file(path, mimetype="text/html", max_age=0)


@bp.app_template_filter("ago")
def ago_filter(value: str | None) -> str:
    """``{{ site.checked_at|ago }}``: "3 min ago" (the ISO time goes in a title)."""
    return board.ago(value)


@bp.post("/sites")
def add_site() -> Response:
    """Add a site from the form, or say what is wrong with it."""
    raw_url = request.form.get("url", "")
    try:
        url = normalize_url(raw_url, current_app.config["SSRF_POLICY"])
        name = normalize_name(request.form.get("name", ""), url)
        site = storage.add_site(get_db(), url, name)
    except (InvalidSite, storage.DuplicateSite) as exc:
        flash(str(exc) if isinstance(exc, InvalidSite) else f"{exc}; it is already on the list.", "error")
        return redirect(url_for(".dashboard", url=raw_url[:2000]))
    flash(f"Added {site.name} ({site.url}).", "success")
    return redirect(url_for(".dashboard"))


@bp.get("/sites/<site_id:site_id>")
def site_page(site_id: int) -> str:
    """One site: its state and its check history."""
    conn = get_db()
    rows = storage.site_statuses(conn, site_id)
    if not rows:
        abort(404, description=f"There is no site {site_id}; it may have been deleted.")
    return render_template("site.html", site=rows[0], checks=storage.site_checks(conn, site_id))


@bp.post("/sites/<site_id:site_id>/delete")
def delete_site(site_id: int) -> Response:
    """Delete a site and its history."""
    site = storage.get_site(get_db(), site_id)
    if site is None or not storage.delete_site(get_db(), site_id):
        flash(f"There is no site {site_id}; it may have been deleted already.", "error")
    else:
        flash(f"Deleted {site.name} ({site.url}).", "success")
    return redirect(url_for(".dashboard"))


@bp.post("/check-all")
def check_all() -> Response:
    """Check every site now with the chosen checker and report the run."""
    checker = requested_checker()
    cfg = current_app.config
    run = run_check_all(get_db(), checker, timeout=cfg["CHECK_TIMEOUT"],
                        concurrency=cfg["CHECK_CONCURRENCY"])
    recorded, up, duration_ms = int(run["recorded"]), int(run["ok_count"]), float(run["duration_ms"])
    sites = f"{recorded} site{'' if recorded == 1 else 's'}"
    flash(f"Checked {sites} in {duration_ms / 1000:.2f} s with the "
          f"{checker} checker: {up} up, {recorded - up} down.", "success")
    return redirect(url_for(".dashboard"))


@bp.post("/sites/<site_id:site_id>/probe")
async def probe(site_id: int) -> Response:
    """Probe one site now, on the shared loop, and go back to its page."""
    found = await probe_site(site_id)
    if found is None:
        abort(404, description=f"There is no site {site_id}; it may have been deleted.")
    site, result = found
    if result.ok:
        flash(f"{site.name} is up: HTTP {result.status_code} in {result.latency_ms or 0:.0f} ms.", "success")
    else:
        flash(f"{site.name} is down: {result.error}", "error")
    return redirect(url_for(".site_page", site_id=site_id))
