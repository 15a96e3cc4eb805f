// The register: one button marks as present everyone who has no status yet.
(function () {
  "use strict";
  var button = document.getElementById("mark-all-present");
  if (!button) {
    return;
  }
  button.addEventListener("click", function () {
    var groups = {};
    document.querySelectorAll("input.register-radio").forEach(function (input) {
      groups[input.name] = groups[input.name] || [];
      groups[input.name].push(input);
    });
    Object.keys(groups).forEach(function (name) {
      var inputs = groups[name];
      var chosen = inputs.some(function (input) { return input.checked; });
      if (!chosen) {
        inputs.forEach(function (input) { input.checked = input.value === "present"; });
      }
    });
  });
})();
