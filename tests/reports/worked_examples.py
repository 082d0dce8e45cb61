"""The worked examples of the README's uptime rules, as engine inputs (store, local time, status
rows; hours rows; zones), shared by the rule tests of the calculator."""

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)

# Zone UTC, open Wednesday 09:00-12:00; the 07:00 poll is outside hours (as_of Wed 25 Jan 12:00).
EXAMPLE_A = {
    "polls": [
        ("a", "2023-01-25 07:00", "active"),
        ("a", "2023-01-25 10:14", "active"),
        ("a", "2023-01-25 11:15", "inactive"),
    ],
    "hours": [("a", WED, "09:00", "12:00")],
    "zones": {"a": "UTC"},
}
# No hours and no zone: open all the time, in America/Chicago.
EXAMPLE_B = {"polls": [("b", "2023-01-25 05:00", "inactive"), ("b", "2023-01-25 11:30", "active")]}
# Zone UTC, open Tuesday and Wednesday 09:00-21:00 (rules 10-13).
EXAMPLE_C = {
    "polls": [
        ("c", "2023-01-24 20:50", "inactive"),
        ("c", "2023-01-25 09:30", "active"),
        ("c", "2023-01-25 10:30", "inactive"),
    ],
    "hours": [("c", TUE, "09:00", "21:00"), ("c", WED, "09:00", "21:00")],
    "zones": {"c": "UTC"},
}
