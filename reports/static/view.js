// A user view (reports/views.py): its figures arrive as exact decimal strings in #view-data, and its
// tiles, charts, tables, statements (with their explanations) and check cards are drawn by the main page's own components
// (components.js and format.js, inlined before this script), with the format tokens the page received
// as data. The period selector switches every tile, statement and check card to that month.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("view-data").textContent);
  var format = window.closeboardFormat(data.currency, data.symbols);
  var C = window.closeboardComponents(format, data.formats, data.currency);
  var colors = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#64748b"];

  data.charts.forEach(function (chart) {
    C.chart(chart.id, document.getElementById(chart.id), {
      type: chart.type, fill: chart.fill, labels: chart.labels, format: chart.format,
      datasets: chart.datasets.map(function (d, i) { return { label: d.label, raw: d.data, color: colors[i % colors.length] }; }),
    });
  });

  // every row of the query (at most 2,000), sortable and filterable, totals exact: the main page's table
  (data.tables || []).forEach(function (spec, i) {
    var body = document.querySelector('.view-table-body[data-table-index="' + i + '"]');
    if (!body) return;
    var section = { id: "view-" + i, title: spec.title, columns: spec.columns, sort: spec.sort, currency_column: spec.currency_column, class: "view-table" };
    C.drawTable(C.buildTable(body, section, { rows: function () { return spec.rows; } }));
  });

  // the period selector: each tile's figures per month were computed exactly by the renderer; a
  // month the tile's query has no row for shows "no data", never 0
  function showPeriod(period) {
    document.querySelectorAll(".view-tile").forEach(function (node) {
      var tile = data.tiles[Number(node.getAttribute("data-tile"))] || {};
      var shown = tile[period];
      var label = node.querySelector(".tile-period");
      if (label) label.textContent = period;
      var b = shown && shown.budget;
      C.drawTile(node, {
        value: shown ? shown.value : null,
        text: shown ? shown.text : "no data",
        changes: [{ name: "change", text: shown && shown.change ? shown.change : "" }],
        budget: b ? { text: b.text, cls: b.favourable === null ? "" : b.favourable ? "fav" : "unfav" } : null,
      });
    });
    document.querySelectorAll(".view-statement-table").forEach(function (table) {
      drawStatement(table, data.statements[Number(table.getAttribute("data-statement-index"))] || {}, period);
    });
    document.querySelectorAll(".view-check .check").forEach(function (card) {
      drawCheck(card, data.checks[Number(card.getAttribute("data-check-index"))] || {}, period);
    });
  }

  // a statement in one month: the renderer formatted every figure exactly (as the dashboard shows it);
  // its lines are drawn by the main page's statement component
  function drawStatement(table, byPeriod, period) {
    var shown = byPeriod[period];
    var head = table.querySelector("thead tr");
    head.textContent = "";
    head.appendChild(C.el("th", { scope: "col", class: "line" }, "Line"));
    ((shown && shown.headings) || []).forEach(function (h) { head.appendChild(C.el("th", { scope: "col", class: "num" }, h)); });
    var section = table.closest(".view-statement");
    C.statementBody(table.querySelector("tbody"), ((shown && shown.rows) || []).map(function (r) {
      // [line_id, label, kind, depth, cells]; a cell [text, exact value, classes]
      return {
        line_id: r[0], label: r[1], kind: r[2], depth: r[3],
        cells: r[4].map(function (c) { return { text: c[0], raw: c[1], cls: c[2] }; }),
        explain: r[2] === "heading" ? null : function (button) { explainLine(button, section, r, period); },
      };
    }), head.children.length - 1, period);
  }

  // one check's card in one month, drawn by the dashboard's own code (format.js checkCard)
  function drawCheck(card, check, period) {
    var drawn = format.checkCard((check.by_period || {})[period], check.label, check.counts, period, check.check_id);
    drawn.setAttribute("data-check-index", card.getAttribute("data-check-index"));
    drawn.setAttribute("data-period", period);
    card.replaceWith(drawn);
  }

  // a click on a statement line opens the main page's explanation (components.js explainer): the
  // accounts the line adds up and the journal lines behind it, largest first, summing to the figure,
  // from the lines this page embeds (render.py `_explanations`, as the main page does), then the
  // command that lists every one of them
  var explainer = C.explainer(data.explain || {}, {});
  var STATEMENT_ARG = { income_statement: "income", balance_sheet: "balance", cash_flow: "cash" };
  function explainLine(button, section, row, period) {
    var statement = section.getAttribute("data-statement"), rollup = section.getAttribute("data-rollup");
    var amount = row[4].length ? row[4][0][1] : null;  // the month's column, exact
    explainer.open({ statement: statement, rollup: rollup, line_id: row[0], label: row[1], period: period, value: amount }, button);
    var panel = C.explainPanel();
    panel.setAttribute("data-line", row[0]);
    var command = "closeboard explain --statement " + (STATEMENT_ARG[statement] || statement) +
      " --line " + row[0] + (rollup === "subtype" ? " --rollup subtype" : "") + (period ? " --period " + period : "");
    var body = panel.querySelector(".explain-body");
    body.appendChild(C.el("p", { class: "explain-doc" }, "Every line behind it (this page embeds the largest of recent months), from the command line:"));
    body.appendChild(C.el("pre", { class: "explain-sql explain-command" }, command));
  }

  var select = document.getElementById("period-select");
  if (select) select.addEventListener("change", function () { showPeriod(select.value); });
  if (select) showPeriod(select.value);
  document.documentElement.setAttribute("data-view-ready", "true");
})();
