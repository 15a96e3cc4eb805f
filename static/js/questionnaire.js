// Saves a questionnaire page's answers as they are chosen, so nothing is lost when the
// phone sleeps or the tab closes. Without this script the Save button does the same.
(function () {
  "use strict";
  var form = document.getElementById("page-form");
  if (!form || !window.fetch || !window.FormData) {
    return;
  }
  var status = document.getElementById("saved-status");
  var timer = null;
  var pending = false;

  function save() {
    timer = null;
    if (!pending) {
      return;
    }
    pending = false;
    var data = new FormData(form);
    data.append("autosave", "1");
    // Not form.action: the "Take a break" button is named "action" and shadows it.
    window.fetch(form.getAttribute("action") || window.location.href, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      keepalive: true,
    }).then(function (response) {
      if (status) {
        status.textContent = response.status === 204 ? "Your answers are saved." : "";
      }
    }).catch(function () {
      // Offline: the Save button still sends everything on the page.
      pending = true;
    });
  }

  form.addEventListener("change", function () {
    pending = true;
    if (timer) {
      window.clearTimeout(timer);
    }
    timer = window.setTimeout(save, 250);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      save();
    }
  });
  window.addEventListener("pagehide", save);
})();
