"""Business hours as one line of text."""

import datetime as dt

from monitoring.hours import summarize_hours


def t(text):
    return dt.time.fromisoformat(text)


def test_no_rows_means_open_all_the_time():
    assert summarize_hours([]) == "24/7"


def test_days_with_the_same_hours_are_grouped_and_missing_days_are_closed():
    rows = [(day, t("09:00"), t("17:00")) for day in range(5)] + [(5, t("10:00"), t("14:00"))]
    assert summarize_hours(rows) == "Mon–Fri 09:00–17:00; Sat 10:00–14:00; closed Sun"


def test_split_shifts_overnight_rows_and_24_hour_rows_read_as_written():
    rows = [
        (0, t("17:00"), t("22:00")),
        (0, t("11:00"), t("14:00")),
        (2, t("22:00"), t("02:00")),
        (4, t("06:00"), t("06:00")),
        (6, t("00:00"), t("23:59:59")),
    ]
    assert summarize_hours(rows) == (
        "Mon 11:00–14:00, 17:00–22:00; Wed 22:00–02:00; Fri 24 h from 06:00; Sun 00:00–23:59:59; closed Tue, Thu, Sat"
    )


def test_same_hours_on_days_apart_are_listed_together():
    rows = [(day, t("10:00"), t("20:00")) for day in (0, 1, 3, 6)] + [(2, t("12:00"), t("20:00"))]
    assert summarize_hours(rows) == "Mon–Tue, Thu, Sun 10:00–20:00; Wed 12:00–20:00; closed Fri–Sat"
