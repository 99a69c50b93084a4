"""The Members page: owners add staff or owners (a new login with the password they set), change
roles, remove members; an account always keeps one owner, even when two owners remove each other
at the same moment. Staff see no owner-only sections."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from accounts.enums import Role
from accounts.models import Membership
from accounts.services import LastOwner, member_remove
from channels_sync.enums import StoreStatus
from tests.factories import AccountFactory, MembershipFactory, StoreFactory, UserFactory
from tests.pages import tags, text

pytestmark = pytest.mark.django_db

User = get_user_model()
STRONG = "plum-Orchard-42-lantern"


def roles(account: Any) -> dict[str, str]:
    return dict(Membership.objects.filter(account=account).values_list("user__username", "role"))


def nav_links(response: Any) -> set[str]:
    """The hrefs in the top bar's "Sections" navigation."""
    page = text(response)
    start = page.index('aria-label="Sections"')
    nav = page[start : page.index("</nav>", start)]
    return {part.split('"', 1)[0] for part in nav.split('href="')[1:]}


def test_an_owner_sees_the_members_with_their_roles(owner_client: Client, owner: Any, user: Any, account: Any) -> None:
    response = owner_client.get("/members/")
    assert response.status_code == 200
    marked = [tag.attrs for tag in tags(response) if "data-member-id" in tag.attrs]
    rows = {attrs["data-member-id"]: attrs["data-member-role"] for attrs in marked}
    assert rows == {
        str(Membership.objects.get(user=owner).pk): "owner",
        str(Membership.objects.get(user=user).pk): "staff",
    }
    assert "alice@example.com" in text(response)


def test_an_owner_adds_a_staff_member_who_then_signs_in(owner_client: Client, account: Any) -> None:
    # when (no JavaScript: a plain form post)
    response = owner_client.post(
        "/members/add/", {"username": "sam", "email": "sam@example.com", "password": STRONG, "role": "staff"}
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == "/members/"
    assert roles(account)["sam"] == "staff"
    assert "sam is now a member (Staff)." in text(owner_client.get("/members/"))
    # and sam signs in with that password, works the orders and is offered no owner-only section
    sam = Client()
    signed_in = sam.post("/accounts/login/", {"username": "sam", "password": STRONG, "next": "/orders/"})
    assert signed_in.status_code == 302
    center = sam.get("/orders/")
    assert center.status_code == 200
    assert nav_links(center) == {"/orders/", "/links/"}
    assert sam.get("/members/").status_code == 403


def test_an_owner_sees_the_stores_and_members_sections(owner_client: Client) -> None:
    assert nav_links(owner_client.get("/orders/")) == {
        "/orders/",
        "/links/",
        "/stores/",
        "/suppliers/",
        "/carriers/",
        "/tracking/settings/",
        "/rules/",
        "/members/",
    }


def test_adding_through_htmx_answers_the_section_and_a_toast(owner_client: Client, account: Any) -> None:
    response = owner_client.post(
        "/members/add/",
        {"username": "oscar", "email": "", "password": STRONG, "role": "owner"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "oscar is now a member (Owner)" in response["HX-Trigger"]
    assert 'id="members-title"' in text(response)
    assert "<html" not in text(response)  # the fragment, not the page
    assert roles(account)["oscar"] == "owner"


def test_a_taken_username_is_refused_without_saying_where_it_is(
    owner_client: Client, account: Any, other_account: Any
) -> None:
    # given a user of another account
    MembershipFactory(user=UserFactory(username="bob"), account=other_account)
    before = Membership.objects.count(), User.objects.count()
    # when the owner tries to add "Bob"
    response = owner_client.post("/members/add/", {"username": "Bob", "password": STRONG, "role": "staff"})
    # then the form says the name is taken, and nothing about the other account
    assert response.status_code == 422
    page = text(response)
    assert "This username is taken. Choose another one." in page
    assert other_account.name not in page
    assert (Membership.objects.count(), User.objects.count()) == before


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"username": "pat", "password": "123", "role": "staff"}, "This password is too short"),
        ({"username": "pat", "password": STRONG, "role": "admin"}, "Select a valid choice"),
        ({"username": "pat/../x", "password": STRONG, "role": "staff"}, "Enter a valid username"),
        ({"username": "pat", "email": "not-an-email", "password": STRONG, "role": "staff"}, "Enter a valid email"),
        ({}, "This field is required"),
    ],
)
def test_a_bad_add_form_says_what_is_wrong_and_creates_nothing(
    owner_client: Client, account: Any, data: dict[str, str], says: str
) -> None:
    before = User.objects.count()
    response = owner_client.post("/members/add/", data)
    assert response.status_code == 422
    assert says in text(response)
    assert User.objects.count() == before


def test_an_owner_changes_a_role_both_ways(owner_client: Client, user: Any, account: Any) -> None:
    membership = Membership.objects.get(user=user)
    assert owner_client.post(f"/members/{membership.pk}/role/", {"role": "owner"}).status_code == 302
    assert roles(account)["alice"] == "owner"
    response = owner_client.post(f"/members/{membership.pk}/role/", {"role": "staff"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "alice is now Staff." in response["HX-Trigger"]
    assert roles(account)["alice"] == "staff"


def test_the_last_owner_cannot_step_down_or_be_removed(
    owner_client: Client, owner: Any, user: Any, account: Any
) -> None:
    own = Membership.objects.get(user=owner)
    # when the only owner makes themselves staff
    response = owner_client.post(f"/members/{own.pk}/role/", {"role": "staff"})
    # then refused, with the reason on the page
    assert response.status_code == 422
    assert "An account needs at least one owner. Make someone else an owner first." in text(response)
    # when they remove themselves (through htmx)
    response = owner_client.post(f"/members/{own.pk}/remove/", HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "the last owner cannot be removed" in text(response)
    # then nothing changed
    assert roles(account) == {"olivia": "owner", "alice": "staff"}


def test_an_owner_removes_a_member_who_loses_access_at_once(owner_client: Client, user: Any, account: Any) -> None:
    # given alice is signed in
    alice = Client()
    alice.force_login(user)
    assert alice.get("/orders/").status_code == 200
    # when the owner removes her
    membership = Membership.objects.get(user=user)
    response = owner_client.post(f"/members/{membership.pk}/remove/")
    # then
    assert response.status_code == 302
    assert roles(account) == {"olivia": "owner"}
    assert User.objects.filter(username="alice").exists()  # the login stays (other accounts may use it)
    assert alice.get("/orders/").status_code == 403  # "No account yet"


def test_an_owner_who_steps_down_lands_on_the_orders(owner_client: Client, owner: Any, account: Any) -> None:
    # given a second owner
    MembershipFactory(user=UserFactory(username="otto"), account=account, role=Role.OWNER)
    own = Membership.objects.get(user=owner)
    # when olivia makes herself staff through htmx
    response = owner_client.post(f"/members/{own.pk}/role/", {"role": "staff"}, HTTP_HX_REQUEST="true")
    # then the page she is on is no longer hers: the browser is sent to the orders
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/"
    assert roles(account) == {"olivia": "staff", "otto": "owner"}


def test_a_member_of_another_account_is_not_found_and_untouched(owner_client: Client, other_account: Any) -> None:
    theirs = MembershipFactory(user=UserFactory(username="bea"), account=other_account, role=Role.STAFF)
    assert owner_client.post(f"/members/{theirs.pk}/role/", {"role": "owner"}).status_code == 404
    assert owner_client.post(f"/members/{theirs.pk}/remove/").status_code == 404
    assert owner_client.post(f"/members/{2**63 + 5}/remove/").status_code == 404
    assert Membership.objects.get(pk=theirs.pk).role == Role.STAFF


def test_staff_see_ask_an_owner_on_a_store_that_cannot_sync(member_client: Client, account: Any) -> None:
    StoreFactory(account=account, name="Broken shop", status=StoreStatus.ERROR, last_error="token revoked")
    page = text(member_client.get("/orders/"))
    assert "Broken shop cannot sync its orders:" in page
    assert "Ask an owner of this account to check it on the Stores page." in page
    assert 'href="/stores/"' not in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_removing_each_other_at_once_leave_one_owner() -> None:
    # given, many times over: an account with two owners, each removing the other at the same moment
    for round_number in range(10):
        account = AccountFactory(name=f"Race {round_number}")
        first = MembershipFactory(account=account, role=Role.OWNER)
        second = MembershipFactory(account=account, role=Role.OWNER)
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def remove(
            membership_id: int,
            account: Any = account,
            barrier: threading.Barrier = barrier,
            outcomes: list[str] = outcomes,
        ) -> None:
            try:
                barrier.wait(timeout=10)
                member_remove(account=account, membership_id=membership_id)
                outcomes.append("removed")
            except LastOwner:
                outcomes.append("last owner")
            finally:
                connection.close()

        threads = [threading.Thread(target=remove, args=(membership.pk,)) for membership in (second, first)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        # then one removal went through, the other was refused, and one owner is left
        assert sorted(outcomes) == ["last owner", "removed"]
        assert Membership.objects.filter(account=account, role=Role.OWNER).count() == 1
