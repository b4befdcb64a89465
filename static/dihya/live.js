// Live parts of the console: the "Test engine/route" buttons, a generation followed until it
// ends (status, answer, attempts as a timeline), and queued/running rows in the list.
// Polls small JSON admin views every 500 ms and stops at a terminal state.
(function () {
  "use strict";
  const EVERY = 500;
  const TERMINAL = ["succeeded", "failed", "cancelled"];

  function text(el, value) { if (el) el.textContent = value == null ? "" : String(value); }

  function render(panel, g) {
    const q = (name) => panel.querySelector('[data-live="' + name + '"]');
    const badge = q("status");
    text(badge, g.status);
    badge.className = "dihya-badge dihya-status-" + g.status;
    text(q("route"), g.route);
    text(q("engine"), g.engine ? "→ " + g.engine : "");
    text(q("latency"), g.latency_ms == null ? "" : g.latency_ms + " ms");
    const link = q("link");
    link.href = g.url;
    link.hidden = false;
    const list = q("attempts");
    list.replaceChildren();
    const slowest = Math.max(1, ...g.attempts.map((a) => a.latency_ms));
    g.attempts.forEach((a) => {
      const li = document.createElement("li");
      li.className = "dihya-attempt dihya-outcome-" + (a.outcome === "ok" ? "ok" : "failed");
      li.dataset.engine = a.engine;
      li.dataset.outcome = a.outcome;
      const name = document.createElement("span");
      name.className = "engine";
      text(name, a.engine);
      const outcome = document.createElement("code");
      text(outcome, a.outcome + (a.status_code ? " " + a.status_code : ""));
      const bar = document.createElement("span");
      bar.className = "dihya-bar";
      const fill = document.createElement("span");
      fill.style.width = Math.max(2, Math.round(100 * a.latency_ms / slowest)) + "%";
      bar.append(fill);
      const ms = document.createElement("span");
      ms.className = "ms";
      text(ms, a.latency_ms + " ms");
      li.append(name, outcome, bar, ms);
      if (a.detail) li.title = a.detail;
      list.append(li);
    });
    const choice = q("choice");
    if (choice) {
      text(choice, g.choice ? "Picked by " + g.choice : "");
      choice.hidden = !g.choice;
    }
    const result = q("result");
    text(result, g.result);
    result.hidden = !g.result;
    const error = q("error");
    text(error, g.error_code ? g.error_code + ": " + g.error_message : "");
    error.hidden = !g.error_code;
    panel.dataset.status = g.status;
  }

  function follow(panel, url) {
    panel.hidden = false;
    panel.dataset.url = url;
    const token = {};
    panel.dihyaFollowing = token;  // a newer test replaces an older one
    let ticks = 0;
    async function tick() {
      if (panel.dihyaFollowing !== token) return;
      try {
        const response = await fetch(url, {credentials: "same-origin",
                                           headers: {Accept: "application/json"}});
        if (response.ok) {
          const g = await response.json();
          render(panel, g);
          if (g.terminal) return;
          if (++ticks > (g.deadline_s + 60) * 1000 / EVERY) return;  // bounded
        }
      } catch (e) { /* network blip: try again */ }
      setTimeout(tick, EVERY);
    }
    tick();
  }

  document.querySelectorAll("form[data-dihya-test]").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const panel = document.getElementById("dihya-live");
      const button = form.querySelector("button");
      button.disabled = true;
      try {
        const response = await fetch(form.action, {
          method: "POST", body: new FormData(form), credentials: "same-origin",
          headers: {Accept: "application/json"}});
        const data = await response.json();
        if (!response.ok) {
          panel.hidden = false;
          text(panel.querySelector('[data-live="error"]'), data.error ? data.error.message : response.status);
          panel.querySelector('[data-live="error"]').hidden = false;
          return;
        }
        render(panel, data);
        follow(panel, data.progress);
      } finally {
        button.disabled = false;
      }
    });
  });

  const panel = document.getElementById("dihya-live");
  if (panel && panel.dataset.url) follow(panel, panel.dataset.url);

  // The generations list: rows still queued or running change status in place.
  const feed = document.getElementById("dihya-statuses");
  if (feed) {
    let ticks = 0;
    async function poll() {
      const pending = [...document.querySelectorAll("[data-generation]")]
        .filter((el) => !TERMINAL.includes(el.dataset.status));
      if (!pending.length || ++ticks > 1200) return;
      const query = pending.map((el) => "id=" + encodeURIComponent(el.dataset.generation));
      try {
        const response = await fetch(feed.dataset.url + "?" + query.join("&"),
                                     {credentials: "same-origin"});
        if (response.ok) {
          const data = await response.json();
          pending.forEach((el) => {
            const status = data.statuses[el.dataset.generation];
            if (status && status !== el.dataset.status) {
              el.dataset.status = status;
              el.className = "dihya-badge dihya-status-" + status;
              text(el, status);
            }
          });
        }
      } catch (e) { /* try again */ }
      setTimeout(poll, EVERY);
    }
    poll();
  }
})();
