// ncsd dashboard: live updates from /v1/stream, raw JSON on demand, and the forwarding
// buttons. No framework and no build step; served from the binary.
"use strict";

(function () {
  const live = document.body.dataset.live || "";
  const state = document.getElementById("live-state");

  // --- Refreshing the live part of the page -------------------------------------------
  let inFlight = false;
  let again = false;
  let timer = null;

  function openRaw() {
    return Array.from(document.querySelectorAll("details[data-raw][open]"), (d) => d.dataset.raw);
  }

  async function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const keepOpen = new Set(openRaw());
      const res = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
      if (res.ok) {
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = doc.getElementById("live");
        const current = document.getElementById("live");
        if (fresh && current) {
          current.replaceWith(document.adoptNode(fresh));
          for (const d of document.querySelectorAll("details[data-raw]")) {
            if (keepOpen.has(d.dataset.raw)) d.open = true;
          }
          document.dispatchEvent(new CustomEvent("ncsd:refreshed"));
        }
      }
    } catch (e) {
      // The next message or reconnect tries again.
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        schedule();
      }
    }
  }

  function schedule() {
    if (timer === null) {
      timer = setTimeout(() => {
        timer = null;
        refresh();
      }, 300);
    }
  }

  // --- The stream ---------------------------------------------------------------------
  let source = null;
  let backoff = 1000;

  function concerns(data) {
    if (live === "all") return true;
    try {
      const v = JSON.parse(data);
      return v.sid === live || (v.data && v.data.sid === live);
    } catch (e) {
      return false;
    }
  }

  function connect() {
    if (!live) return;
    source = new EventSource("/v1/stream");
    source.onopen = () => {
      backoff = 1000;
      if (state) state.dataset.state = "open";
    };
    for (const kind of ["event", "lifecycle"]) {
      source.addEventListener(kind, (m) => {
        if (concerns(m.data)) schedule();
      });
    }
    source.onerror = () => {
      if (state) state.dataset.state = "closed";
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (a refused or failed answer): try again, more slowly each time.
        source = null;
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 30000);
      }
    };
  }

  // A page closes its stream when left: browsers allow six HTTP/1.1 connections per host.
  function close() {
    if (source) {
      source.close();
      source = null;
    }
  }
  window.addEventListener("pagehide", close);
  window.addEventListener("beforeunload", close);
  window.addEventListener("pageshow", (e) => {
    if (e.persisted && !source) connect();
  });
  connect();

  // --- Raw JSON on demand ---------------------------------------------------------------
  document.addEventListener(
    "toggle",
    async (e) => {
      const d = e.target;
      if (!(d instanceof HTMLDetailsElement) || !d.open || !d.dataset.raw || d.dataset.loaded) return;
      const pre = d.querySelector("pre");
      try {
        const res = await fetch(d.dataset.raw, { credentials: "same-origin" });
        const body = await res.json();
        pre.textContent = JSON.stringify(body, null, 2);
        d.dataset.loaded = "1";
      } catch (err) {
        pre.textContent = "could not load: " + err;
      }
    },
    true
  );

  // --- Buttons that call the forwarding API ---------------------------------------------
  async function post(url, body) {
    const box = document.getElementById("action-error");
    const res = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body || {}),
    });
    if (!res.ok) {
      let message = res.status + "";
      try {
        message += ": " + (await res.json()).error;
      } catch (e) {}
      if (box) {
        box.textContent = message;
        box.hidden = false;
      }
      return;
    }
    if (box) box.hidden = true;
    document.body.dataset.lastAction = url;
    refresh();
  }

  document.addEventListener("click", (e) => {
    const b = e.target.closest("button[data-post]");
    if (b) {
      e.preventDefault();
      post(b.dataset.post);
    }
  });
  document.addEventListener("submit", (e) => {
    const f = e.target.closest("form[data-post]");
    if (!f) return;
    e.preventDefault();
    const body = {};
    for (const [k, v] of new FormData(f)) {
      if (v !== "") body[k] = /^-?\d+$/.test(v) ? Number(v) : v;
    }
    post(f.dataset.post, body);
  });
})();
