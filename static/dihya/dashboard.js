// Draws the generations chart and refreshes the dashboard figures every 10 s.
(function () {
  "use strict";
  const root = document.getElementById("dashboard");
  if (!root || !window.Chart) return;
  const colours = {succeeded: "#2e7d32", failed: "#c62828", cancelled: "#757575",
                   running: "#1565c0", queued: "#f9a825"};
  const canvas = document.getElementById("dihya-series");
  const chart = new Chart(canvas, {
    type: "bar",
    data: {labels: [], datasets: Object.keys(colours).map((s) => ({
      label: s, data: [], backgroundColor: colours[s], stack: "g"}))},
    options: {animation: false, responsive: true, maintainAspectRatio: false, plugins: {legend: {position: "bottom"}},
              scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}},
  });
  // One bar per minute, hour or day of the period (empty ones included: the axis is even);
  // labelled to the bucket's size, in the browser's time zone.
  const labels = {hour: {hour: "2-digit", minute: "2-digit"},
                  day: {weekday: "short", hour: "2-digit", minute: "2-digit"},
                  week: {weekday: "short", day: "numeric", month: "short"}};
  function label(t) {
    return new Date(t).toLocaleString([], labels[root.dataset.period] || {});
  }
  function pct(v) { return v === null ? "—" : Math.round(v * 100) + " %"; }
  async function refresh() {
    const url = root.dataset.url + "?period=" + encodeURIComponent(root.dataset.period);
    const response = await fetch(url, {credentials: "same-origin"});
    if (!response.ok) return;
    const data = await response.json();
    chart.data.labels = data.series.map((p) => label(p.t));
    chart.data.datasets.forEach((d) => { d.data = data.series.map((p) => p[d.label] || 0); });
    chart.update();
    root.querySelectorAll("[data-k]").forEach((el) => {
      const v = data.totals[el.dataset.k];
      el.textContent = el.hasAttribute("data-pct") ? pct(v) : v;
    });
  }
  refresh();
  setInterval(refresh, 10000);
})();
