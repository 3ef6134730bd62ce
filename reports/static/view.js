// A user view's charts (reports/views.py): the figures arrive as exact decimal strings in
// #view-data; the chart library draws them as numbers. Everything else is in the HTML already.
// Check cards are worded and their money formatted as on the dashboard: format.js, inlined before this.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("view-data").textContent);
  var format = window.closeboardFormat(data.currency, data.symbols);
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
            borderColor: colors[i % colors.length],
            backgroundColor: chart.fill ? colors[i % colors.length] + "33" : colors[i % colors.length],
            fill: chart.fill ? "origin" : false,  // an area chart: the line filled to the axis
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
      var budget = node.querySelector(".tile-budget"), b = shown && shown.budget;
      budget.hidden = !b;
      budget.textContent = b ? b.text : "";
      budget.className = "tile-budget" + (b && b.favourable !== null ? (b.favourable ? " fav" : " unfav") : "");
    });
    document.querySelectorAll(".view-statement-table").forEach(function (table) {
      drawStatement(table, data.statements[Number(table.getAttribute("data-statement-index"))] || {}, period);
    });
    document.querySelectorAll(".view-check .check").forEach(function (card) {
      drawCheck(card, data.checks[Number(card.getAttribute("data-check-index"))] || {}, period);
    });
  }

  function cell(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    node.textContent = text;
    return node;
  }

  // a statement in one month: the renderer formatted every figure exactly (as the dashboard shows it)
  function drawStatement(table, byPeriod, period) {
    var shown = byPeriod[period];
    var head = table.querySelector("thead tr"), body = table.querySelector("tbody");
    head.textContent = "";
    head.appendChild(cell("th", { scope: "col", class: "line" }, "Line"));
    ((shown && shown.headings) || []).forEach(function (h) { head.appendChild(cell("th", { scope: "col", class: "num" }, h)); });
    body.textContent = "";
    if (!shown || !shown.rows.length) {
      body.appendChild(document.createElement("tr")).appendChild(
        cell("td", { class: "missing", colspan: String(head.children.length) }, "No statement for " + period + "."));
      return;
    }
    shown.rows.forEach(function (r) {  // [line_id, label, kind, depth, cells]; a cell [text, exact value, classes]
      var tr = cell("tr", { class: "kind-" + r[2], "data-line": r[0] }, "");
      var th = tr.appendChild(cell("th", { scope: "row", class: "line depth-" + r[3] }, r[2] === "heading" ? r[1] : ""));
      if (r[2] !== "heading") {  // a click (or Enter) explains the line, as on the dashboard
        th.appendChild(cell("button", { type: "button", class: "line-explain", "aria-haspopup": "dialog", title: "explain this line" }, r[1]));
      }
      r[4].forEach(function (c) {
        tr.appendChild(cell("td", { class: "num" + c[2], "data-raw": c[1] === null ? "" : c[1] }, c[0]));
      });
      body.appendChild(tr);
    });
  }

  // one check's card in one month, drawn by the dashboard's own code (format.js checkCard)
  function drawCheck(card, check, period) {
    var drawn = format.checkCard((check.by_period || {})[period], check.label, check.counts, period, check.check_id);
    drawn.setAttribute("data-check-index", card.getAttribute("data-check-index"));
    drawn.setAttribute("data-period", period);
    card.replaceWith(drawn);
  }

  // a click on a statement line: the dashboard opens the journal lines behind it from its embedded
  // explanations; a view carries none, so the panel says where to see them for that line and month
  var STATEMENT_ARG = { income_statement: "income", balance_sheet: "balance", cash_flow: "cash" };
  function explainLine(button) {
    var row = button.closest("tr"), section = button.closest(".view-statement");
    var select = document.getElementById("period-select");
    var period = select ? select.value : "";
    var statement = section.getAttribute("data-statement"), rollup = section.getAttribute("data-rollup");
    var command = "closeboard explain --statement " + (STATEMENT_ARG[statement] || statement) +
      " --line " + row.getAttribute("data-line") + (rollup === "subtype" ? " --rollup subtype" : "") +
      (period ? " --period " + period : "");
    var panel = document.getElementById("explain");
    if (!panel) {
      panel = cell("div", { id: "explain", class: "explain-panel", role: "dialog", "aria-modal": "true", "aria-labelledby": "explain-title" }, "");
      var inner = panel.appendChild(cell("div", { class: "explain-inner" }, ""));
      var close = inner.appendChild(cell("button", { type: "button", class: "explain-close", "aria-label": "Close the explanation" }, "Close"));
      inner.appendChild(cell("h2", { id: "explain-title" }, ""));
      inner.appendChild(cell("div", { class: "explain-body" }, ""));
      close.addEventListener("click", function () { panel.hidden = true; if (panel.opener) panel.opener.focus(); });
      panel.addEventListener("keydown", function (e) { if (e.key === "Escape") close.click(); });
      document.body.appendChild(panel);
    }
    panel.opener = button;
    panel.setAttribute("data-line", row.getAttribute("data-line"));
    panel.querySelector("h2").textContent = button.textContent + " — " + section.querySelector("h2").textContent + (period ? ", " + period : "");
    var body = panel.querySelector(".explain-body");
    body.textContent = "";
    body.appendChild(cell("p", { class: "explain-doc" }, "This page does not carry the journal lines behind its statements. " +
      "To see what this line adds up (its accounts, then the journal lines summing to the figure), click it on the main page " +
      "(reports/latest.html, or `closeboard serve`) or run:"));
    body.appendChild(cell("pre", { class: "explain-sql explain-command" }, command));
    panel.hidden = false;
    panel.querySelector(".explain-close").focus();
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest(".view-statement-table .line-explain");
    if (button) explainLine(button);
  });

  var select = document.getElementById("period-select");
  if (select) select.addEventListener("change", function () { showPeriod(select.value); });
  if (select && data.checks.length) showPeriod(select.value);  // the check cards' sentences
  document.documentElement.setAttribute("data-view-ready", "true");
})();
