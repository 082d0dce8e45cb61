#!/usr/bin/env python
"""Timings of the admin lists and the pages on a big database (issue 5).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/storemonitor_bench_report \\
        .venv/bin/python benchmarks/bench_admin.py

Requests each page in-process with Django's test client as a temporary staff user
(``bench-admin``, deleted with its session at the end), several times, and prints the median
wall time, the number of queries and the slowest query. Nothing is asserted (the machine is
shared and noisy); the tests bound the query counts. Needs a database that `load_csvs` filled,
e.g. 14,000 stores and ~1.9 M polls, migrated to the code measured.

The store page is measured for the first store by id and for the store with the most downtime
in the last day (the top of "stores needing attention", so one with outages to list); the
dashboard before and after a Complete report holding the summary is there. That report is
made for the run (a full report computed in-process, a few seconds) and deleted at the end.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "storemonitor.settings")


def main() -> None:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.ALLOWED_HOSTS = ["testserver"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh planner statistics, as autovacuum would give
    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    summary_reports = []
    try:
        measure(client, connection, settings, int(os.environ.get("BENCH_REPEAT", "5")), summary_reports)
    finally:
        client.logout()
        user.delete()
        for report in summary_reports:
            report.delete()


def summary_report():
    """A Complete report holding the dashboard's summary as of the newest poll."""
    from django.utils import timezone

    from reports.attention import attention_summary
    from reports.generation import compute_report
    from reports.models import Report

    started = time.perf_counter()
    data = compute_report()
    summary = attention_summary(data.figures, data.feeds)
    print(f"(a full report and its summary for the dashboard: {time.perf_counter() - started:.1f} s)")
    now = timezone.now()
    return Report.objects.create(
        status=Report.Status.COMPLETE,
        progress=1.0,
        as_of=data.as_of,
        store_count=data.store_count,
        started_at=now,
        finished_at=now,
        summary=summary,
    )


def measure(client, connection, settings, repeat: int, summary_reports: list) -> None:
    from monitoring.models import StatusPoll, Store

    store = Store.objects.order_by("store_id").values_list("pk", "store_id").first()
    if store is None:
        sys.exit("The database holds no stores: load feeds with manage.py load_csvs first.")
    poll_pk = StatusPoll.objects.order_by("-timestamp_utc").values_list("pk", flat=True).first()
    newest = StatusPoll.objects.order_by("-timestamp_utc").values_list("timestamp_utc", flat=True).first()
    pages = [
        ("stores list", "/admin/monitoring/store/"),
        ("stores list, page 50", "/admin/monitoring/store/?p=50"),
        ("stores, search", f"/admin/monitoring/store/?q={store[1][:6]}"),
        ("stores, latest status inactive", "/admin/monitoring/store/?latest_status=inactive"),
        ("stores, zone default", "/admin/monitoring/store/?zone=default"),
        ("stores, sorted by newest poll", "/admin/monitoring/store/?o=4"),
        ("store change page", f"/admin/monitoring/store/{store[0]}/change/"),
        ("polls list", "/admin/monitoring/statuspoll/"),
        ("polls, page 1000", "/admin/monitoring/statuspoll/?p=1000"),
        ("polls, status inactive", "/admin/monitoring/statuspoll/?status__exact=inactive"),
        ("polls, search store_id", f"/admin/monitoring/statuspoll/?q={store[1]}"),
        (
            "polls, one day",
            f"/admin/monitoring/statuspoll/?timestamp_utc__day={newest.day}"
            f"&timestamp_utc__month={newest.month}&timestamp_utc__year={newest.year}",
        ),
        ("poll change page", f"/admin/monitoring/statuspoll/{poll_pk}/change/"),
        ("reports list", "/admin/reports/report/"),
        ("dashboard, no report's summary", "/"),
        ("store week page", f"/stores/{store[1]}/"),
        ("store search, part of an id", f"/stores/?store_id={store[1][-6:]}"),
    ]
    print(
        f"{connection.vendor} {settings.DATABASES['default'].get('NAME')}: "
        f"{Store.objects.count():,} stores, ~{_estimate(connection):,} polls; median of {repeat} runs"
    )
    print(f"{'page':34} {'status':>6} {'median':>9} {'max':>9} {'queries':>7}  slowest query")
    for name, url in pages:
        measure_page(client, connection, name, url, repeat)
    summary_reports.append(summary_report())
    attention = summary_reports[-1].summary["attention"]
    pages = [("dashboard, with a report's summary", "/")]
    if attention:
        pages.append(("store week page, most downtime", f"/stores/{attention[0]['store_id']}/"))
    for name, url in pages:
        measure_page(client, connection, name, url, repeat)


def measure_page(client, connection, name: str, url: str, repeat: int) -> None:
    from django.test.utils import CaptureQueriesContext

    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
    slowest = max(queries.captured_queries, key=lambda q: float(q["time"]), default={"time": "0", "sql": ""})
    print(
        f"{name:34} {response.status_code:>6} {statistics.median(times) * 1000:>7.0f}ms "
        f"{max(times) * 1000:>7.0f}ms {len(queries):>7}  {float(slowest['time']) * 1000:.0f}ms "
        f"{slowest['sql'][:70]}"
    )


def _estimate(connection) -> int:
    from monitoring.models import StatusPoll
    from monitoring.stats import count_rows

    return count_rows(StatusPoll.objects.all()).value


if __name__ == "__main__":
    main()
