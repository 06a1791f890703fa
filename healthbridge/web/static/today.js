// The parent's "today" timeline: refresh each child's day without a reload (polling the
// same-origin JSON feed; the Content-Security-Policy allows 'self' scripts only).
(function () {
  "use strict";
  var EVERY_MS = 30000;
  var lists = document.querySelectorAll("ol.today[data-today]");
  if (!lists.length || !window.fetch) { return; }
  function item(e) {
    var li = document.createElement("li");
    li.className = "ev-" + e.kind + (e.alert ? " alert" : "");
    [["at", e.at], ["what", e.label], ["detail", e.detail]].forEach(function (part) {
      var span = document.createElement("span");
      span.className = part[0];
      span.textContent = part[1];
      li.appendChild(span);
    });
    return li;
  }
  function refresh(list) {
    fetch(list.dataset.today, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) { return; }
        var items = body.events.map(item);
        if (!items.length) {
          var empty = document.createElement("li");
          empty.className = "empty muted";
          empty.textContent = list.dataset.empty;
          items = [empty];
        }
        list.replaceChildren.apply(list, items);
        list.dataset.updated = String(Date.now());
      })
      .catch(function () { /* offline: keep what is shown, try again later */ });
  }
  function tick() {
    if (document.visibilityState === "visible") { lists.forEach(refresh); }
  }
  window.setInterval(tick, EVERY_MS);
  document.addEventListener("visibilitychange", tick);
})();
