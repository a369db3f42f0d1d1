"""The log-in page: wrong passwords in words, the way back to the page asked for, and pages
that are for other roles."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import PASSWORD, Pages


def test_a_wrong_password_is_refused_in_words(pages: Pages, screenshot: Any) -> None:
    page = pages.open("/login")
    page.get_by_label("E-mail").fill(pages.server.email("dispatcher"))
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    error = page.locator("#login-error")
    error.wait_for()
    assert error.inner_text() == "Wrong email or password"
    assert page.url.endswith("/login")
    screenshot(page, "login-error")


def test_a_role_page_sends_to_login_and_back(pages: Pages) -> None:
    page = pages.open("/board")
    assert "/login?next=%2Fboard" in page.url
    page.get_by_label("E-mail").fill(pages.server.email("dispatcher"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/board")


def test_another_roles_page_says_whose_it_is(pages: Pages) -> None:
    page = pages.open("/board", login=pages.server.email("courier"))
    assert page.get_by_role("heading", level=1).inner_text() == (
        "This page is for dispatchers and operators"
    )
