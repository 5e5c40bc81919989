// The school view's live numbers: polls the console's small JSON endpoint and updates the page in place.
// Without JavaScript the page still shows the numbers as of its loading (progressive enhancement).
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-url");
  var every = 3000;
  // Numbers and times as the page's language writes them, times in the school's zone (not the browser's).
  var lang = document.documentElement.lang || undefined;
  var zone = box.getAttribute("data-zone") || "Asia/Almaty";
  var count = new Intl.NumberFormat(lang);
  function clock(iso, withDate) {
    var style = withDate ? {timeZone: zone, dateStyle: "medium", timeStyle: "medium"} : {timeZone: zone, timeStyle: "medium"};
    return new Date(iso).toLocaleString(lang, style);
  }

  function setText(el, value) { if (el && el.textContent !== String(value)) { el.textContent = String(value); } }

  function render(data) {
    setText(document.getElementById("live-total"), count.format(data.served));
    setText(document.getElementById("live-refused"), count.format(data.refusedAttempts));
    data.meals.forEach(function (m) {
      var row = document.querySelector('#live-meals tr[data-meal="' + m.mealType + '"]');
      if (!row) { return; }
      setText(row.querySelector('[data-field="served"]'), count.format(m.served));
      setText(row.querySelector('[data-field="entitled"]'), count.format(m.entitled));
    });
    var body = document.querySelector("#live-reasons tbody");
    if (body && data.refused.length) {
      while (body.firstChild) { body.removeChild(body.firstChild); }
      data.refused.forEach(function (r) {
        var tr = document.createElement("tr");
        var a = document.createElement("td"); a.textContent = r.label;
        var b = document.createElement("td"); b.textContent = count.format(r.count); b.className = "num";
        tr.appendChild(a); tr.appendChild(b); body.appendChild(tr);
      });
    }
    data.terminals.forEach(function (x) {
      var row = document.querySelector('#live-terminals tr[data-terminal="' + CSS.escape(x.id) + '"]');
      if (!row) { return; }
      var pill = row.querySelector('[data-field="status"] .pill');
      if (pill) { pill.className = "pill " + (x.online ? "ok" : "warn"); }
      if (x.lastContactAt) {
        setText(row.querySelector('[data-field="last"]'), clock(x.lastContactAt, true));
      }
    });
    setText(document.getElementById("live-updated"), clock(data.updatedAt, false));
  }

  function poll() {
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        var json = (r.headers.get("Content-Type") || "").indexOf("application/json") === 0;
        // Sent to the sign-in page (the session ended): reload, so the page itself asks to sign in again.
        if (r.redirected || (r.ok && !json)) { window.location.reload(); throw new Error("session"); }
        if (!r.ok) { throw new Error("retry"); }
        return r.json();
      })
      .then(function (data) { render(data); window.setTimeout(poll, every); })
      .catch(function (e) { if (e.message !== "session") { window.setTimeout(poll, every * 2); } });
  }
  window.setTimeout(poll, 500);
}());
