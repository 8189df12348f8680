// The status page's only script: every few seconds it fetches the page's
// live part, rendered and escaped by the server, and swaps it in. When the
// node stops answering the last view stays, marked stale.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live) {
    return;
  }
  const url = live.dataset.live;
  const every = Math.max(500, parseInt(live.dataset.refresh, 10) || 2000);
  function stale(why) {
    const s = document.getElementById("state");
    if (s) {
      s.textContent = "(stale: " + why + ")";
      s.className = "state stale";
    }
  }
  async function tick() {
    try {
      const r = await fetch(url, { cache: "no-store", credentials: "same-origin", redirect: "error" });
      if (r.ok) {
        live.innerHTML = await r.text();
      } else {
        stale("HTTP " + r.status);
      }
    } catch (e) {
      stale("node unreachable");
    }
    setTimeout(tick, every);
  }
  setTimeout(tick, every);
})();
