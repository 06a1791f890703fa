// Live alerts on the health manager's pages: the centre's high-severity alerts arrive through
// the FHIR websocket channel (Subscriptions Backport: bind-with-token, then one notification
// Bundle per event) and show at once, without a reload. today.js keeps polling as the
// fallback (no WebSocket, a proxy that drops it, the socket closed): nothing depends on this.
(function () {
  "use strict";
  var link = document.querySelector("[data-live]");
  if (!link || !window.WebSocket || !window.fetch) { return; }
  var box = document.getElementById("live-alerts");
  var retryMs = 5000;
  var lang = (document.documentElement.lang || "zh").slice(0, 2);
  function textOf(message) {
    var texts = (message.payload || []).map(function (p) { return p.contentString || ""; });
    return (lang === "en" && texts.length > 1) ? texts[1] : (texts[0] || "");
  }
  function show(bundle) {
    var head = bundle.entry && bundle.entry[0] && bundle.entry[0].resource;
    var kind = head && (head.parameter || []).filter(function (p) { return p.name === "type"; })[0];
    if (!kind || kind.valueCode !== "event-notification") { return; }
    bundle.entry.slice(1).forEach(function (e) {
      if (!box || !e.resource || e.resource.resourceType !== "Communication") { return; }
      var p = document.createElement("p");
      p.className = "error live-alert";
      p.setAttribute("role", "alert");
      p.textContent = textOf(e.resource);
      box.prepend(p);
      box.hidden = false;
    });
    document.dispatchEvent(new CustomEvent("hb:refresh"));
  }
  function connect() {
    fetch(link.dataset.live, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (t) {
        if (!t) { return; }
        var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
        var socket = new WebSocket(scheme + window.location.host + t.path);
        socket.onopen = function () {
          socket.send("bind-with-token " + t.token);
          link.dataset.liveState = "open";
        };
        socket.onmessage = function (ev) {
          try { show(JSON.parse(ev.data)); } catch (err) { /* not a Bundle: ignore */ }
        };
        socket.onclose = function () {
          link.dataset.liveState = "closed";
          window.setTimeout(connect, retryMs);
          retryMs = Math.min(retryMs * 2, 300000);
        };
      })
      .catch(function () { window.setTimeout(connect, retryMs); });
  }
  connect();
})();
