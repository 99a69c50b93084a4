"""The Members page in a real browser: the owner (demo) adds a staff member, changes a role, is
refused removing the last owner with a message; the page works from the keyboard and fits a phone."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from accounts.models import Membership

with contextlib.suppress(ImportError):
    from playwright.sync_api import Page, expect

from .conftest import PHONE, expect_no_sideways_scroll

pytestmark = pytest.mark.browser


def member_row(page: Page, username: str) -> Any:
    return page.locator("#members tbody tr", has=page.locator("th", has_text=re.compile(rf"^{username}\b")))


def test_an_owner_adds_a_staff_member_changes_a_role_and_cannot_remove_the_last_owner(page: Page, shoot: Any) -> None:
    # The top bar leads there
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Members").click()
    expect(page).to_have_url(re.compile(r"/members/$"))
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    expect(member_row(page, "demo")).to_have_attribute("data-member-role", "owner")

    # Add a staff member, typed and submitted from the keyboard
    form = page.locator("#add-member")
    form.get_by_label("Username").fill("sam")
    form.get_by_label("E-mail").fill("sam@example.com")
    form.get_by_label("Password").fill("plum-Orchard-42-lantern")
    form.get_by_label("Role").select_option("staff")
    form.get_by_label("Password").press("Enter")
    row = member_row(page, "sam")
    expect(row).to_have_attribute("data-member-role", "staff")
    expect(page.locator("#toasts")).to_contain_text("sam is now a member (Staff)")
    assert Membership.objects.get(user__username="sam").role == "staff"
    shoot(page, "30-members-added")

    # Make sam an owner, then staff again
    row.get_by_label("Role of sam").select_option("owner")
    row.get_by_role("button", name="Change role sam").click()
    expect(member_row(page, "sam")).to_have_attribute("data-member-role", "owner")
    row = member_row(page, "sam")
    row.get_by_label("Role of sam").select_option("staff")
    row.get_by_role("button", name="Change role sam").focus()
    page.keyboard.press("Enter")
    expect(member_row(page, "sam")).to_have_attribute("data-member-role", "staff")

    # demo is the last owner: removing them is refused, with the reason, and nothing changes
    member_row(page, "demo").get_by_role("button", name="Remove demo").click()  # the confirm dialog is accepted
    alert = page.locator("[data-members-error]")
    expect(alert).to_contain_text("the last owner cannot be removed")
    expect(member_row(page, "demo")).to_have_attribute("data-member-role", "owner")
    assert Membership.objects.filter(user__username="demo", role="owner").exists()
    shoot(page, "31-members-last-owner-refused")

    # Remove sam
    member_row(page, "sam").get_by_role("button", name="Remove sam").click()
    expect(member_row(page, "sam")).to_have_count(0)
    assert not Membership.objects.filter(user__username="sam").exists()


def test_the_members_page_fits_a_phone(page: Page, shoot: Any) -> None:
    page.set_viewport_size(PHONE)
    page.goto("/members/")
    expect(page.get_by_role("heading", name="Members", exact=True)).to_be_visible()
    expect_no_sideways_scroll(page, PHONE["width"])
    shoot(page, "32-phone-members")
