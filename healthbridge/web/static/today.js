// Live lists without a reload: the parent's "today" timeline and messages, the centre's inbox
// (ol[data-feed] → JSON {events: [...]}) and the centre navigation's message count
// ([data-badge] → JSON {recent: n}). Same-origin polling every 30 s and whenever the page
// becomes visible (the Content-Security-Policy allows 'self' scripts only).
(function () {
  "use strict";
  var EVERY_MS = 30000;
  var feeds = document.querySelectorAll("ol[data-feed]");
  var badges = document.querySelectorAll("[data-badge]");
  if ((!feeds.length && !badges.length) || !window.fetch) { return; }
  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; });
  }
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
  function refreshFeed(list) {
    get(list.dataset.feed).then(function (body) {
      if (!body) { return; }
      var items = body.events.map(item);
      if (!items.length) {
        var empty = document.createElement("li");
        empty.className = "empty muted";
        empty.textContent = list.dataset.empty || "";
        items = [empty];
      }
      list.replaceChildren.apply(list, items);
      list.dataset.updated = String(Date.now());
    }).catch(function () { /* offline: keep what is shown, try again later */ });
  }
  function refreshBadge(link) {
    get(link.dataset.badge).then(function (body) {
      if (!body) { return; }
      var badge = link.querySelector(".badge");
      badge.textContent = String(body.recent);
      badge.hidden = !body.recent;
    }).catch(function () { /* try again later */ });
  }
  function tick() {
    if (document.visibilityState !== "visible") { return; }
    feeds.forEach(refreshFeed);
    badges.forEach(refreshBadge);
  }
  window.setInterval(tick, EVERY_MS);
  document.addEventListener("visibilitychange", tick);
  document.addEventListener("hb:refresh", tick); // live.js: an alert came over the websocket
  badges.forEach(refreshBadge);
})();
