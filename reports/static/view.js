// A user view's charts (reports/views.py): the figures arrive as exact decimal strings in
// #view-data; the chart library draws them as numbers. Everything else is in the HTML already.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("view-data").textContent);
  var colors = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#64748b"];
  data.charts.forEach(function (chart) {
    var canvas = document.getElementById(chart.id);
    if (!canvas || typeof Chart === "undefined") return;
    new Chart(canvas, {
      type: chart.type,
      data: {
        labels: chart.labels,
        datasets: chart.datasets.map(function (d, i) {
          return {
            label: d.label, raw: d.data,
            data: d.data.map(function (v) { return v === null ? null : Number(v); }),
            borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length],
            borderWidth: 2, tension: 0.2,
          };
        }),
      },
      options: { animation: false, responsive: true, maintainAspectRatio: false },
    });
    canvas.setAttribute("data-drawn", "true");
  });
  // the period selector: each tile's figures per month were computed exactly by the renderer; a
  // month the tile's query has no row for shows "no data", never 0
  function showPeriod(period) {
    document.querySelectorAll(".view-tile").forEach(function (node) {
      var tile = data.tiles[Number(node.getAttribute("data-tile"))] || {};
      var shown = tile[period];
      node.setAttribute("data-value", shown && shown.value !== null ? shown.value : "");
      node.querySelector(".tile-value").textContent = shown ? shown.text : "no data";
      var label = node.querySelector(".tile-period");
      if (label) label.textContent = period;
      var change = node.querySelector(".tile-change");
      change.textContent = "";
      if (shown && shown.change) {
        var span = document.createElement("span");
        span.textContent = shown.change;
        change.appendChild(span);
      }
    });
  }
  var select = document.getElementById("period-select");
  if (select) select.addEventListener("change", function () { showPeriod(select.value); });
  document.documentElement.setAttribute("data-view-ready", "true");
})();
