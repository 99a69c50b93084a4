// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function updateSelection(root) {
    var form = document.getElementById("bulk-form");
    if (!form) return;
    var boxes = form.querySelectorAll('input[name="ids"]');
    var checked = form.querySelectorAll('input[name="ids"]:checked').length;
    form.querySelectorAll("[data-bulk-action]").forEach(function (button) { button.disabled = checked === 0; });
    var label = document.getElementById("selected-count");
    if (label) label.textContent = checked ? checked + " / " + boxes.length : "";
    var all = form.querySelector("[data-select-all]");
    if (all) all.checked = checked > 0 && checked === boxes.length;
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      document.querySelectorAll('#bulk-form input[name="ids"]').forEach(function (box) { box.checked = target.checked; });
    }
    if (target.closest("#bulk-form")) updateSelection();
    var auto = target.closest("form[data-autosubmit]");
    if (auto && target.tagName === "SELECT") auto.submit();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-drawer-close]")) closeDrawer();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeDrawer();
  });

  function closeDrawer() {
    var drawer = document.getElementById("drawer");
    if (drawer && drawer.innerHTML.trim()) {
      drawer.innerHTML = "";
      var main = document.getElementById("order-center");
      if (main) main.focus({ preventScroll: true });
    }
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "drawer") {
      var title = document.getElementById("order-title");
      if (title) { title.setAttribute("tabindex", "-1"); title.focus(); }
    }
    updateSelection();
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
})();
