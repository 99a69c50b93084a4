// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.add("js");
  var drawerOpener = null; // the link that opened the order drawer, to return focus to

  function updateSelection() {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var boxes = form.querySelectorAll('input[name="ids"]');
    var checked = form.querySelectorAll('input[name="ids"]:checked').length;
    // Without JavaScript the buttons stay enabled and lead to the confirmation page.
    form.querySelectorAll("[data-bulk-action]").forEach(function (button) { button.disabled = checked === 0; });
    var label = document.getElementById("selected-count");
    if (label) {
      label.textContent = checked
        ? (label.dataset.template || "{checked} / {total}")
            .replace("{checked}", checked).replace("{total}", boxes.length)
        : "";
    }
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = checked > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
    boxes.forEach(function (box) {
      var row = box.closest("tr");
      if (row) row.classList.toggle("is-selected", box.checked);
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll('#bulk-form input[name="ids"]').forEach(function (box) { box.checked = target.checked; });
    }
    if (target.closest("#bulk-form")) updateSelection();
    var auto = target.closest("form[data-autosubmit]");
    if (auto && target.tagName === "SELECT") {
      // htmx may have pushed a newer URL since the page was rendered: come back to that one.
      var next = auto.querySelector('input[name="next"]');
      if (next) next.value = location.pathname + location.search;
      auto.submit();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-drawer-close]")) closeDrawer();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeDrawer();
    if (event.key === "Tab") keepFocusInModalDrawer(event);
  });

  // On a phone the drawer covers the whole screen: it is a modal dialog there, so Tab and
  // Shift+Tab go round inside it. On a wide screen it is a side panel beside the table.
  var phone = window.matchMedia("(max-width: 700px)");
  var FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), ' +
    'select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

  function openDrawer() {
    var drawer = document.getElementById("drawer");
    return drawer && drawer.innerHTML.trim() ? drawer : null;
  }

  function syncDrawerRole() {
    var drawer = document.getElementById("drawer");
    if (!drawer) return;
    if (openDrawer() && phone.matches) {
      drawer.setAttribute("role", "dialog");
      drawer.setAttribute("aria-modal", "true");
    } else {
      drawer.removeAttribute("role");
      drawer.removeAttribute("aria-modal");
    }
  }
  if (phone.addEventListener) phone.addEventListener("change", syncDrawerRole);

  function keepFocusInModalDrawer(event) {
    var drawer = openDrawer();
    if (!drawer || !phone.matches) return;
    var items = Array.prototype.filter.call(drawer.querySelectorAll(FOCUSABLE), function (item) {
      return item.getClientRects().length > 0; // shown
    });
    if (!items.length) return;
    var active = document.activeElement;
    var index = items.indexOf(active);
    var inside = drawer.contains(active);
    if (event.shiftKey ? !inside || index <= 0 : !inside || index === items.length - 1) {
      event.preventDefault();
      (event.shiftKey ? items[items.length - 1] : items[0]).focus();
    }
  }

  function markOpenRow(number) {
    document.querySelectorAll("#order-rows tr.is-open").forEach(function (row) { row.classList.remove("is-open"); });
    if (!number) return;
    document.querySelectorAll("#order-rows tr[data-order-number]").forEach(function (row) {
      if (row.dataset.orderNumber === number) row.classList.add("is-open");
    });
  }

  function closeDrawer() {
    var drawer = document.getElementById("drawer");
    if (!drawer || !drawer.innerHTML.trim()) return;
    drawer.innerHTML = "";
    syncDrawerRole();
    markOpenRow(null);
    var opener = drawerOpener && document.body.contains(drawerOpener) ? drawerOpener : null;
    if (!opener) opener = document.querySelector(".tabs .tab.active");
    if (opener) opener.focus({ preventScroll: true });
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "drawer") drawerOpener = event.detail.elt;
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var drawer = document.getElementById("drawer");
    if (event.detail.target.id === "drawer") {
      var detail = drawer.querySelector("[data-order-detail]");
      markOpenRow(detail ? detail.dataset.orderDetail : null);
      syncDrawerRole();
      var title = document.getElementById("order-title");
      if (title) { title.setAttribute("tabindex", "-1"); title.focus({ preventScroll: true }); }
      drawer.scrollTop = 0;
    } else if (drawer && drawer.innerHTML.trim()) {
      // The table was redrawn (tab, search, archive): keep the open order highlighted.
      var open = drawer.querySelector("[data-order-detail]");
      markOpenRow(open ? open.dataset.orderDetail : null);
    }
    updateSelection();
  });

  // A form swapped in place (the refund request, the refunds section after Cancel): focus its
  // heading, so a keyboard or screen reader user is where the new content starts.
  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (!root || !root.matches || !root.matches("[data-focus-heading]")) return;
    var heading = root.querySelector("h2, h3");
    if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var messages = document.body.dataset;
    showToast((xhr.status === 404 ? messages.msgNotFound : messages.msgError) + " (" + xhr.status + ")");
  });

  document.body.addEventListener("toast", function (event) { showToast(event.detail.message); });

  function showToast(message) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var toast = document.createElement("div");
    toast.className = "toast";
    toast.textContent = message;
    box.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 5000);
  }

  updateSelection();
})();
