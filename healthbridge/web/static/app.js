// The pages' only script (no inline scripts: the Content-Security-Policy allows 'self' only).
(function () {
  "use strict";
  // <select data-autosubmit>: choosing a value submits its form
  document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });
  // the visit form: show only the warning-sign group of the chosen visit
  var visit = document.getElementById("visit_type");
  if (visit) {
    var show = function () {
      document.querySelectorAll(".screen").forEach(function (d) {
        d.hidden = d.dataset.point !== visit.value;
      });
    };
    visit.addEventListener("change", show);
    show();
  }
})();
