"""Assertion helpers shared by the page and admin tests."""


def absent_from(text: str, *snippets: str) -> list[str]:
    """The snippets that ``text`` does not contain; tests assert the list is empty, so a failure
    names every missing snippet at once."""
    return [snippet for snippet in snippets if snippet not in text]


def page_text(response, status: int = 200) -> str:
    """The decoded body of a page response, after checking its status code."""
    assert response.status_code == status, response.content[:500]
    return response.content.decode()
