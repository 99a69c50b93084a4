"""The product links pages, mounted at ``/links/`` in the ``suppliers`` namespace (``suppliers/urls.py``).

``suppliers:link_new`` takes ``?order_line=<id>`` (a line of one of the account's orders: the
form comes prefilled with its store, product and variant ids, SKU and title) and ``?next=<path>``
(where to go back after saving). The order row's "Link product" button links there.
"""

from __future__ import annotations

from django.urls import path

from suppliers import views_links

urlpatterns = [
    path("", views_links.links_list, name="links"),
    path("new/", views_links.link_new, name="link_new"),
    path("<int:link_id>/", views_links.link_edit, name="link_edit"),
    path("<int:link_id>/delete/", views_links.link_delete, name="link_delete"),
    path("bulk/", views_links.links_bulk, name="links_bulk"),
    path("import/", views_links.links_import, name="links_import"),
    path("import/example.csv", views_links.links_example_csv, name="links_example"),
]
