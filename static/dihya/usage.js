// The usage page's chart: tokens per hour (over a day) or per day, one stack per client,
// route or engine, from the figures the page carries (json_script).
(function () {
  "use strict";
  const data = document.getElementById("dihya-usage-data");
  const canvas = document.getElementById("dihya-usage-chart");
  if (!data || !canvas || !window.Chart) return;
  const chart = JSON.parse(data.textContent);
  const palette = ["#417690", "#2e7d32", "#f9a825", "#c62828", "#6a1b9a", "#00838f", "#757575"];
  const format = chart.size === "hour" ? {hour: "2-digit", minute: "2-digit"}
                                       : {weekday: "short", day: "numeric", month: "short"};
  new Chart(canvas, {
    type: "bar",
    data: {labels: chart.labels.map((t) => new Date(t).toLocaleString([], format)),
           datasets: chart.series.map((s, i) => ({label: s.name, data: s.tokens, stack: "u",
                                                   backgroundColor: palette[i % palette.length]}))},
    options: {animation: false, responsive: true, maintainAspectRatio: false,
              plugins: {legend: {position: "bottom"}, title: {display: true, text: "Tokens"}},
              scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}},
  });
})();
