// honker dashboard: live updates over server-sent events, confirmations and
// selection. No library, no inline script (the pages send a strict CSP).
(function () {
  "use strict";
  var body = document.body;
  var base = body.dataset.base || "";
  var live = document.getElementById("live");
  var status = document.getElementById("live-status");

  function setStatus(state, text) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  // Destructive buttons ask first (data-confirm on the button).
  document.addEventListener("submit", function (e) {
    var b = e.submitter;
    var msg = b && b.dataset ? b.dataset.confirm : null;
    if (msg && !window.confirm(msg)) e.preventDefault();
  });

  // "select all" on the dead-letter page.
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "select-all") {
      document.querySelectorAll("input.pick").forEach(function (box) {
        box.checked = e.target.checked;
      });
    }
  });

  if (!live || body.dataset.live !== "on" || !window.EventSource) return;

  var busy = false, again = false, generation = 0;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    var mine = ++generation;
    fetch(window.location.href, {
      headers: { "X-Honker-Partial": "1" },
      credentials: "same-origin",
      cache: "no-store",
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.text();
    }).then(function (html) {
      if (mine !== generation) return;
      var picked = {};
      document.querySelectorAll("input.pick:checked").forEach(function (box) {
        picked[box.value] = true;
      });
      var all = document.getElementById("select-all");
      var allOn = all && all.checked;
      live.innerHTML = html;
      document.querySelectorAll("input.pick").forEach(function (box) {
        if (picked[box.value]) box.checked = true;
      });
      var all2 = document.getElementById("select-all");
      if (all2 && allOn) all2.checked = true;
      body.dataset.refreshed = String(Date.now());
    }).catch(function () {
      setStatus("dead", "update failed");
    }).finally(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }

  var events = new EventSource(base + "/events");
  var hellos = 0;
  events.addEventListener("hello", function () {
    setStatus("live", "live");
    if (hellos++) refresh();  // reconnected: changes may have been missed
  });
  events.addEventListener("change", function () { setStatus("live", "live"); refresh(); });
  events.addEventListener("dead", function () {
    setStatus("dead", "disconnected: the database's watcher stopped");
    events.close();
  });
  events.onerror = function () { setStatus("connecting", "reconnecting…"); };
})();
