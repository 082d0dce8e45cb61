"""drf-spectacular hooks."""


def drop_slash_aliases(endpoints, **kwargs):
    """Leave out '/x/' when '/x' is also routed: the same endpoint, listed once."""
    paths = {path for path, *_ in endpoints}
    return [e for e in endpoints if not (e[0].endswith("/") and e[0].rstrip("/") in paths)]
