/* closeboard's components, the one implementation the main page (dashboard.js) and the user views
 * (view.js) both draw with: a tile, a chart, a sortable and filterable table with exact totals per
 * currency, a statement's lines (each explainable), the explanation panel. (A check card is
 * format.js checkCard.) Each page inlines this file after format.js and calls
 * closeboardComponents(format, formats, currency): `format` is closeboardFormat(...), `formats` the
 * format table the page received as data (its names and how each shows a value), `currency` the
 * reporting currency. What a component shows is computed by its page (the dashboard's KPI rules, a
 * view's query rows); how it is drawn is here.
 *
 * Every string from a source reaches the page through textContent or a canvas, never as HTML.
 */
window.closeboardComponents = function (FORMAT, FORMATS, CURRENCY) {
  "use strict";
  FORMATS = FORMATS || {};
  var hundredths = FORMAT.hundredths, abs = FORMAT.abs, money = FORMAT.money, number = FORMAT.number;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // ------------------------------------------------------------------ formats (as data)

  function formatOf(format) {
    return Object.prototype.hasOwnProperty.call(FORMATS, format || "") ? FORMATS[format] : null;
  }

  // a value in a format of the page's table: money in the format's own currency (usd, eur, ...) or the
  // one given (the row's, else the company's); numbers with their places and suffix; else as text
  function display(value, format, currency) {
    var f = formatOf(format);
    if (!f || (!f.money && f.places === undefined)) return value === null || value === undefined ? "—" : String(value);
    return f.money ? money(value, f.currency || currency, f.places) : number(value, f.places, f.suffix);
  }

  function isNumeric(format) { var f = formatOf(format); return f !== null && (!!f.money || f.places !== undefined); }
  function isMoney(format) { var f = formatOf(format); return !!(f && f.money); }

  function fromHundredths(v) {
    var a = abs(v);
    var s = (a / 100n).toString() + "." + (a % 100n).toString().padStart(2, "0");
    return v < 0n ? "-" + s : s;
  }

  // ------------------------------------------------------------------ tile

  // A tile's DOM, as the main page's template writes it (a view's tiles are built here)
  function tileCard(attrs, label) {
    var card = el("div", attrs);
    card.className = "tile" + (attrs.class ? " " + attrs.class : "");
    var head = card.appendChild(el("div", { class: "tile-label" }, label));
    card.appendChild(el("div", { class: "tile-value" }));
    card.appendChild(el("div", { class: "tile-change" }));
    return { card: card, label: head };
  }

  // One tile in one month: `shown` = {value (exact), text, title, exact (the figure to the cent, for a
  // rounded one), basis (what it covers), changes: [{name, text, cls, title}], budget: {text, cls,
  // title, attrs} or null}
  function drawTile(card, shown) {
    card.setAttribute("data-value", shown.value === null || shown.value === undefined ? "" : shown.value);
    var valueNode = card.querySelector(".tile-value");
    valueNode.textContent = shown.text;
    valueNode.title = shown.title || "";
    if (shown.exact !== undefined) {  // a rounded figure: the exact one on hover and focus
      var exact = card.querySelector(".tile-exact");
      if (!exact) {
        exact = el("div", { class: "tile-exact" });
        valueNode.after(exact);
        card.tabIndex = 0;
      }
      exact.textContent = shown.exact ? "exactly " + shown.exact : "";
    }
    var changeNode = card.querySelector(".tile-change");
    if (shown.basis !== undefined) {
      var basis = card.querySelector(".tile-basis");
      if (!basis) { basis = el("div", { class: "tile-basis" }); changeNode.before(basis); }
      basis.textContent = shown.basis;
    }
    (shown.changes || []).forEach(function (ch) {
      var span = changeNode.querySelector("." + ch.name);
      if (!span) span = changeNode.appendChild(el("span", { class: ch.name }));
      span.className = ch.name + (ch.cls ? " " + ch.cls : "");
      span.textContent = ch.text;
      span.title = ch.title || "";
    });
    var node = card.querySelector(".tile-budget");
    if (!node) { node = el("div", { class: "tile-budget" }); changeNode.after(node); }
    var b = shown.budget;
    node.hidden = !b;
    node.className = "tile-budget" + (b && b.cls ? " " + b.cls : "");
    ["data-favourable", "data-variance"].forEach(function (a) { node.removeAttribute(a); });
    node.textContent = b ? b.text : "";
    node.title = b && b.title ? b.title : "";
    Object.keys((b && b.attrs) || {}).forEach(function (a) { node.setAttribute(a, b.attrs[a]); });
  }

  // ------------------------------------------------------------------ chart

  var charts = {};

  // A chart over exact decimal strings (each dataset's `raw`): drawn as numbers, its tooltips and
  // ticks formatted from the exact value. spec: {type: line|bar, fill, labels, datasets: [{label, raw,
  // color, pointRadius}], format (of the values), tick (of the axis), currency, title}
  function chart(key, canvas, spec) {
    var currency = spec.currency || CURRENCY;
    var datasets = spec.datasets.map(function (d) {
      var out = {
        label: d.label, raw: d.raw,
        data: d.raw.map(function (v) { return v === null || v === undefined ? null : Number(v); }),
        borderColor: d.color, backgroundColor: spec.type === "bar" ? d.color : spec.fill ? d.color + "33" : d.color,
      };
      if (spec.type !== "bar") {
        out.fill = spec.fill ? "origin" : false;  // an area chart: the line filled to the axis
        out.tension = 0.2;
        out.borderWidth = 2;
        if (d.pointRadius) out.pointRadius = d.pointRadius;
      }
      return out;
    });
    var config = {
      type: spec.type, data: { labels: spec.labels, datasets: datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { label: function (ctx) {
            var raw = ctx.dataset.raw ? ctx.dataset.raw[ctx.dataIndex] : ctx.parsed.y;
            return ctx.dataset.label + ": " + display(raw, spec.format, currency);
          } } },
        },
        scales: { y: { ticks: { callback: function (v) {
          return display(String(Math.round(v)), spec.tick || spec.format, currency);
        } } } },
      },
    };
    if (charts[key]) {
      charts[key].data = config.data;
      charts[key].update("none");
    } else if (window.Chart && canvas) {
      charts[key] = new Chart(canvas, config);
    }
    if (canvas) canvas.setAttribute("data-drawn", "true");
    return charts[key];
  }

  // a tile's sparkline: the figure over its months, no axes, no tooltips
  function spark(key, canvas, labels, values) {
    if (!window.Chart || !canvas) return;
    if (charts[key]) {
      charts[key].data.labels = labels;
      charts[key].data.datasets[0].data = values;
      charts[key].update("none");
      return;
    }
    charts[key] = new Chart(canvas, {
      type: "line",
      data: { labels: labels, datasets: [{ data: values, borderColor: "#64748b", borderWidth: 1.5, pointRadius: 0, tension: 0.25, spanGaps: false }] },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, events: [],
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: { x: { display: false }, y: { display: false } },
      },
    });
  }

  // ------------------------------------------------------------------ table

  var CURRENCY_KEY = "\u0000currency";  // a summary row's currency, beside the table's own columns

  function compare(a, b, format) {
    if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;  // blanks last
    if (b === null || b === undefined) return -1;
    if (isNumeric(format)) {
      var x = hundredths(a), y = hundredths(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
  }

  function rowCount(summary) { return summary.reduce(function (n, r) { return n + Number(r._rows); }, 0); }

  // A table: `section` = {id, title, columns: [{name, label, format, total}], sort: {column,
  // descending}, facet: {column, label}, currency_column}; `src` gives its rows: rows() the rows of the
  // selected month that the page holds, server(t, n) every row when the page can fetch them (else
  // null, t.fetchNote saying why), summary(facet) the count and totals of every row when the page holds
  // only the first ones (else null), order the words for the rows kept, more(t, partial, more) the
  // sentence under a table with rows left out. Draw it with drawTable(t).
  function buildTable(body, section, src) {
    var t = {
      section: section, src: src, filter: "", facet: "",
      sort: section.sort ? section.sort.column : null, desc: !!(section.sort && section.sort.descending),
    };
    var tools = el("div", { class: "table-tools" });
    var filterId = "filter-" + section.id;
    tools.appendChild(el("label", { for: filterId, class: "visually" }, "Filter"));
    t.input = el("input", { type: "search", id: filterId, placeholder: "Filter rows…", "aria-controls": "table-" + section.id });
    t.input.addEventListener("input", function () { t.filter = t.input.value; drawTable(t); });
    tools.appendChild(t.input);
    if (section.facet) {
      var facetId = "facet-" + section.id;
      tools.appendChild(el("label", { for: facetId }, section.facet.label));
      t.facetSelect = el("select", { id: facetId });
      t.facetSelect.addEventListener("change", function () { t.facet = t.facetSelect.value; drawTable(t); });
      tools.appendChild(t.facetSelect);
    }
    t.count = el("span", { class: "count", "aria-live": "polite" });
    tools.appendChild(t.count);
    body.appendChild(tools);
    var wrap = el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": section.title || section.id });
    var table = el("table", { id: "table-" + section.id, class: section.class || "" });
    var thead = el("thead"), tr = el("tr");
    t.headers = section.columns.map(function (col) {
      var th = el("th", { scope: "col", class: isNumeric(col.format) ? "num" : "", "data-column": col.name });
      var button = el("button", { type: "button", title: "Sort by " + col.label }, col.label);
      button.addEventListener("click", function () {
        if (t.sort === col.name) t.desc = !t.desc;
        else { t.sort = col.name; t.desc = isNumeric(col.format); }
        drawTable(t);
      });
      th.appendChild(button);
      tr.appendChild(th);
      return th;
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    t.tbody = table.appendChild(el("tbody"));
    t.tfoot = table.appendChild(el("tfoot"));
    wrap.appendChild(table);
    body.appendChild(wrap);
    t.table = table;
    t.more = el("p", { class: "note table-more", hidden: "" });
    body.appendChild(t.more);
    return t;
  }

  function drawTable(t) {
    var section = t.section, src = t.src;
    var all = src.rows();
    var full = src.server ? src.server(t, all.length) : null;
    if (full) all = full;
    var summaryOf = function (facet) { return !full && src.summary ? src.summary(facet) : null; };
    if (t.facetSelect) {
      var values = [];
      all.concat(summaryOf("") || []).forEach(function (r) { var v = r[section.facet.column]; if (values.indexOf(v) < 0) values.push(v); });
      values.sort();
      if (t.facet && values.indexOf(t.facet) < 0) values.push(t.facet);
      t.facetSelect.textContent = "";
      t.facetSelect.appendChild(el("option", { value: "" }, "All"));
      values.forEach(function (v) { var o = el("option", { value: v }, v); if (v === t.facet) o.selected = true; t.facetSelect.appendChild(o); });
    }
    var currencyOf = function (r) { return section.currency_column ? r[section.currency_column] : CURRENCY; };
    var needle = t.filter.trim().toLowerCase();
    var rows = all.filter(function (r) {
      if (t.facet && r[section.facet.column] !== t.facet) return false;
      if (!needle) return true;
      return section.columns.some(function (col) {
        var raw = r[col.name];
        if (raw === null || raw === undefined) return false;
        return String(raw).toLowerCase().indexOf(needle) >= 0
          || display(raw, col.format, currencyOf(r)).toLowerCase().indexOf(needle) >= 0;
      });
    });
    if (t.sort) {
      var col = section.columns.filter(function (c) { return c.name === t.sort; })[0] || {};
      rows = rows.slice().sort(function (a, b) {
        var c = compare(a[t.sort], b[t.sort], col.format);
        if (a[t.sort] === null || b[t.sort] === null) return c;  // blanks stay last either way
        return t.desc ? -c : c;
      });
    }
    t.headers.forEach(function (th) {
      var name = th.getAttribute("data-column");
      th.setAttribute("aria-sort", name === t.sort ? (t.desc ? "descending" : "ascending") : "none");
    });
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) {
      var tr = el("tr");
      section.columns.forEach(function (col) {
        var raw = r[col.name];
        var td = el("td", { class: (isNumeric(col.format) ? "num" : "") + (col.name === "reason" || col.name === "detail" ? " wrap" : ""), "data-column": col.name },
          display(raw, col.format, currencyOf(r)));
        td.setAttribute("data-raw", raw === null || raw === undefined ? "" : String(raw));
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    t.tbody.textContent = "";
    t.tbody.appendChild(frag);
    // totals, one line per currency: over the rows the filter keeps; while rows are left out of the
    // page and no filter is set, those of every row (the summary computed in SQL)
    var facetRows = t.facet ? all.filter(function (r) { return r[section.facet.column] === t.facet; }) : all;
    var summary = summaryOf(t.facet);
    var inAll = summary ? Math.max(rowCount(summary), facetRows.length) : facetRows.length;
    var partial = inAll > facetRows.length;
    var fromSummary = partial && !needle;
    var totalRows = fromSummary ? summary.map(function (r) { var o = {}; o[CURRENCY_KEY] = r._currency || CURRENCY; section.columns.forEach(function (c) { o[c.name] = r[c.name]; }); return o; }) : rows;
    var currencyOfTotal = fromSummary ? function (r) { return r[CURRENCY_KEY]; } : currencyOf;
    t.tfoot.textContent = "";
    var totalCols = section.columns.filter(function (c) { return c.total; });
    var currencies = [];
    totalRows.forEach(function (r) { var c = currencyOfTotal(r); if (currencies.indexOf(c) < 0) currencies.push(c); });
    if (!currencies.length) currencies.push(CURRENCY);
    if (totalCols.length) {
      currencies.forEach(function (cur, i) {
        var tr = el("tr", { class: "total", "data-currency": cur, "data-of": fromSummary ? "all" : "rows" });
        section.columns.forEach(function (col, j) {
          var td = el("td", { class: isNumeric(col.format) ? "num" : "", "data-column": col.name });
          if (col.total) {
            var sum = 0n, moneyCol = isMoney(col.format);
            totalRows.forEach(function (r) {
              if (moneyCol && currencyOfTotal(r) !== cur) return;
              var v = hundredths(r[col.name]);
              if (v !== null) sum += v;
            });
            if (moneyCol || i === 0) {
              var raw = fromHundredths(sum);
              td.textContent = display(raw, col.format, cur);
              td.setAttribute("data-raw", raw);
            }
          } else if (j === 0) {
            td.textContent = (currencies.length > 1 ? "Total " + cur : "Total") +
              (fromSummary ? " (all " + inAll.toLocaleString("en-US") + " rows)" : partial ? " of the matching rows shown" : "");
          }
          tr.appendChild(td);
        });
        t.tfoot.appendChild(tr);
      });
    }
    t.count.textContent = !partial ? rows.length + " of " + facetRows.length + " rows"
      : needle ? rows.length + " of the " + facetRows.length + " rows shown match (" + inAll.toLocaleString("en-US") + " in all)"
      : facetRows.length + " of " + inAll.toLocaleString("en-US") + " rows shown" + (src.order ? " (" + src.order + ")" : "");
    t.count.setAttribute("data-rows", String(rows.length));
    t.count.setAttribute("data-all-rows", String(inAll));
    t.table.setAttribute("data-complete", partial ? "false" : "true");
    t.table.setAttribute("data-from", full ? "server" : "file");
    var more = inAll - facetRows.length;
    t.more.textContent = t.fetchNote || (partial && src.more ? src.more(t, more) : "");
    t.more.hidden = !t.more.textContent;
    t.more.setAttribute("data-more", String(partial ? more : 0));
  }

  // ------------------------------------------------------------------ statement

  // A statement's lines into `tbody`: rows [{line_id, label, kind, depth, cells: [{text, raw, cls,
  // attrs}], explain: a function(button) or null}]; a line that can be explained is a button (click
  // or Enter) and its whole row a click target. No rows: "No statement for P."
  function statementBody(tbody, rows, columns, period) {
    var frag = document.createDocumentFragment();
    rows.forEach(function (r) {
      var tr = el("tr", { class: "kind-" + r.kind, "data-line": r.line_id });
      var th = el("th", { scope: "row", class: "line depth-" + Math.min(r.depth || 0, 4) }, r.explain ? null : r.label);
      if (r.explain) {
        var button = el("button", { type: "button", class: "line-explain", "aria-haspopup": "dialog", title: "explain this line" }, r.label);
        button.addEventListener("click", function (e) { e.stopPropagation(); r.explain(button); });
        tr.addEventListener("click", function () { r.explain(button); });
        tr.classList.add("explainable");
        th.appendChild(button);
      }
      tr.appendChild(th);
      r.cells.forEach(function (c) {
        var td = el("td", { class: "num" + (c.cls || "") }, c.text);
        Object.keys(c.attrs || {}).forEach(function (a) { td.setAttribute(a, c.attrs[a]); });
        td.setAttribute("data-raw", c.raw === null || c.raw === undefined ? "" : String(c.raw));
        if (c.title) td.title = c.title;
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    });
    tbody.textContent = "";
    tbody.appendChild(frag);
    if (!rows.length) {
      tbody.appendChild(el("tr")).appendChild(el("td", { colspan: String(columns + 1), class: "missing" }, "No statement for " + period + "."));
    }
  }

  // ------------------------------------------------------------------ the explanation panel

  var panel = null, lastOpener = null;

  function closeExplain() {
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    document.documentElement.removeAttribute("data-explain");
    if (lastOpener) lastOpener.focus();
  }

  // the one explanation dialog of a page: opened by a tile or a statement line, closed by its button,
  // Escape or a click beside it, focus back on what opened it
  function explainPanel(opener) {
    if (opener !== undefined) lastOpener = opener || null;
    if (panel) return panel;
    panel = el("div", { id: "explain", class: "explain-panel", role: "dialog", "aria-modal": "true", "aria-labelledby": "explain-title", hidden: "" });
    var inner = el("div", { class: "explain-inner" });
    var close = el("button", { type: "button", class: "explain-close", "aria-label": "Close the explanation" }, "Close");
    close.addEventListener("click", closeExplain);
    inner.appendChild(close);
    inner.appendChild(el("h2", { id: "explain-title" }));
    inner.appendChild(el("div", { class: "explain-body" }));
    panel.appendChild(inner);
    panel.addEventListener("click", function (e) { if (e.target === panel) closeExplain(); });
    panel.addEventListener("keydown", function (e) { if (e.key === "Escape") closeExplain(); });
    document.body.appendChild(panel);
    return panel;
  }

  // ------------------------------------------------------------------ click to explain

  function shiftPeriod(period, months) {
    var y = parseInt(period.slice(0, 4), 10), m = parseInt(period.slice(5, 7), 10) - 1 + months;
    y += Math.floor(m / 12); m = ((m % 12) + 12) % 12;
    return y + "-" + String(m + 1).padStart(2, "0");
  }

  // The explanation `closeboard explain` gives, for a tile (a KPI) or a statement line, in the panel:
  // the definition, the sources and their MCP calls, and the rows behind it largest first, whose sum
  // ties to the figure. Offline, from the page's embedded explanations (`EXPLAIN`: reports/render.py
  // _explanations, the largest rows per figure with the count and total of all of them); served
  // (env.served), every row from the server. env.periodInfo(period) says whether a month is open;
  // env.kpiValue(period, {kpi}) is the figure a tile shows. Returns {open(req, opener)}.
  function explainer(EXPLAIN, env) {
    var SERVED = env.served || null;
    var periodInfo = env.periodInfo || function () { return {}; };
    var kpiValue = env.kpiValue || function () { return null; };

    // The explanation `closeboard explain` gives, for a tile (a KPI) or an income-statement line: the
    // definition, the sources and their MCP calls, and the rows behind it largest first, whose sum ties
    // to the figure. Offline, from the page's embedded explanations (DATA.explain: the largest rows per
    // figure, with the count and total of all of them); served, every row from the server.
    var COLUMN_LABELS = { posted_date: "Date", entry_id: "Entry", line_no: "Line", account_id: "Account", description: "Description",
      document_id: "Document", opportunity_id: "Opportunity", customer_name: "Customer", stage: "Stage", close_date: "Close date", amount: "Amount" };

    // rows as arrays of `columns`, whatever their origin (embedded arrays or the server's objects)
    function tableRows(rows, columns) {
      var wanted = Object.keys(COLUMN_LABELS);
      if (!rows.length || Array.isArray(rows[0])) return { columns: columns, rows: rows };
      var cols = wanted.filter(function (c) { return rows.some(function (r) { return r[c] !== undefined && r[c] !== null; }); });
      return { columns: cols, rows: rows.map(function (r) { return cols.map(function (c) { return r[c] === undefined ? null : r[c]; }); }) };
    }

    function sumOf(rows, columns) {
      var i = columns.indexOf("amount"), t = 0n;
      rows.forEach(function (r) { t += hundredths(r[i]) || 0n; });
      return t;
    }

    // a node of the embedded explanations (reports/explain.py page_explanations) for one period, in the
    // shape `closeboard explain --json` gives
    function embeddedNode(shape, period) {
      var fig = (EXPLAIN.figures || {})[shape.key] || {};
      var values = fig.values || {};
      var out = { name: shape.name, kind: shape.kind, definition: shape.definition, period: period,
                  value: values[period] !== undefined ? values[period] : null, table: shape.table, formula: shape.formula, reads: shape.reads };
      if (shape.kind === "formula" || shape.kind === "window") {
        var periods = [period];
        if (shape.kind === "window") { periods = []; for (var k = shape.preceding; k >= 0; k--) periods.push(shiftPeriod(period, -k)); }
        out.over = shape.kind === "window" ? periods : undefined;
        out.components = shape.kind === "window"
          ? periods.map(function (q) { return embeddedNode(shape.components[0], q); })
          : shape.components.map(function (c) { return embeddedNode(c, period); });
      } else if (shape.kind === "lines" || shape.kind === "records") {
        var rows = (fig.rows || {})[period] || (fig.rows || {})["*"] || { count: 0, total: "0.00", shown: [] };
        var shown = rows.shown;
        var rest = hundredths(rows.total) - sumOf(shown, fig.columns || []);
        out.columns = fig.columns || [];
        out.rows = { count: rows.count, total: rows.total, shown: shown, more: { count: rows.count - shown.length, total: fromHundredths(rest) } };
        out.ties = hundredths(rows.total) === (hundredths(out.value) || 0n);
      }
      return out;
    }

    function embeddedKpi(req) {
      if (EXPLAIN.error) return { error: EXPLAIN.error };
      var shape = (EXPLAIN.kpis || {})[req.kpi];
      if (!shape) return { error: "no explanation for " + req.kpi + " in this page" };
      if ((EXPLAIN.periods || []).indexOf(req.period) < 0) return { error: notEmbedded(req) };
      var node = embeddedNode(shape, req.period);
      node.kpi = req.kpi; node.doc = shape.doc; node.model = EXPLAIN.model; node.sources = EXPLAIN.sources || [];
      return node;
    }

    function notEmbedded(req) {
      var ps = EXPLAIN.periods || [];
      return "This file carries the explanations of " + (ps.length ? ps[0] + " to " + ps[ps.length - 1] : "no month") + " only. Run `" +
        (req.kpi ? "closeboard explain " + req.kpi + " --period " + req.period : "closeboard serve") + "`, or open the page with `closeboard serve`, which fetches any month.";
    }

    // an income-statement line: the journal lines of the accounts it adds up, each signed as the line counts it
    function embeddedLine(req) {
      if (EXPLAIN.error) return { error: EXPLAIN.error };
      var st = EXPLAIN.statement || {};
      var parts = (st.accounts || {})[req.rollup + "|" + req.line_id];
      if (!parts) return { error: "no journal lines make up this line" };
      var byAccount = (st.lines || {})[req.period];
      if (!byAccount) return { error: notEmbedded(req) };
      var columns = st.columns || [], at = columns.indexOf("amount");
      var count = 0, total = 0n, rows = [];
      parts.forEach(function (p) {
        var e = byAccount[p[0]];
        if (!e) return;
        count += e.count;
        total += BigInt(p[1]) * hundredths(e.total);
        e.shown.forEach(function (r) { var c = r.slice(); c[at] = fromHundredths(BigInt(p[1]) * hundredths(r[at])); rows.push(c); });
      });
      rows.sort(function (a, b) {
        var x = hundredths(a[at]), y = hundredths(b[at]);
        return abs(y) > abs(x) ? 1 : abs(y) < abs(x) ? -1 : y > x ? 1 : y < x ? -1 : String(a[1]).localeCompare(String(b[1])) || (a[2] - b[2]);
      });
      var shown = rows.slice(0, EXPLAIN.limit || 10);
      return lineResult(req, columns, { count: count, total: fromHundredths(total), shown: shown,
        more: { count: count - shown.length, total: fromHundredths(total - sumOf(shown, columns)) } }, parts, st.model);
    }

    // a balance-sheet or cash-flow line (reports/explain.py assemble_line, on the embedded data): one row
    // per opening balance, computed earnings row or account's earnings, then the month's journal lines
    // largest first, each signed as the line counts it
    function embeddedBalanceLine(req) {
      if (EXPLAIN.error) return { error: EXPLAIN.error };
      var st = EXPLAIN.statement || {};
      var parts = (st.parts || {})[req.statement + "|" + req.rollup + "|" + req.line_id];
      if (!parts) return { error: "no balances make up this line" };
      if ((st.balance_periods || []).indexOf(req.period) < 0) {
        var bp = st.balance_periods || [];
        return { error: "This file carries the balance-sheet and cash-flow explanations of " + (bp.length ? bp[0] + " to " + bp[bp.length - 1] : "no month") +
          " only (to keep it small). Open the page with `closeboard serve`, which fetches any month." };
      }
      var moves = (st.moves || {})[req.period] || {}, pnl = (st.lines || {})[req.period] || {};
      var earnings = (st.earnings || {})[req.period] || {};
      var columns = st.columns || [], at = columns.indexOf("amount");
      var isColumns = (EXPLAIN.statement || {}).columns || [];
      var fixed = [], lines = [], count = 0, total = 0n;
      function row(date, account, text, amount) { var r = columns.map(function () { return null; }); r[0] = date; r[3] = account; r[4] = text; r[at] = fromHundredths(amount); return r; }
      parts.forEach(function (p) {
        var part = p[0], sign = BigInt(p[1]), mode = p[2], m = moves[part] || {};
        if ((mode === "balance" || mode === "opening") && hundredths(m.opening || "0")) fixed.push(row(m.opening_date, part, "Opening balance (the month-end before)", sign * hundredths(m.opening)));
        if (mode === "computed") { var v = (earnings.computed || {})[part]; if (v !== undefined && v !== null && hundredths(v)) fixed.push(row((st.period_ends || {})[req.period], part, "Computed from the income statement (open its own line)", sign * hundredths(v))); }
        if (mode === "current" || mode === "retained") {
          var pair = (earnings.accounts || {})[part] || ["0", "0"], e = hundredths(pair[mode === "current" ? 0 : 1]);
          if (e) fixed.push(row((st.period_ends || {})[req.period], part, mode === "current" ? "Credit − debit, fiscal year to date" : "Credit − debit, before the fiscal year", sign * e));
        }
        var entry = mode === "pnl" ? pnl[part] : (mode === "balance" || mode === "move") ? moves[part] : null;
        if (!entry) return;
        count += entry.count;
        total += sign * hundredths(entry.total);
        var from = mode === "pnl" ? isColumns : columns, fromAt = from.indexOf("amount");
        entry.shown.forEach(function (r) {
          var c = columns.map(function (name) { var i = from.indexOf(name); return i < 0 ? null : r[i]; });
          c[at] = fromHundredths(sign * hundredths(r[fromAt]));
          lines.push(c);
        });
      });
      count += fixed.length;
      total += sumOf(fixed, columns);
      lines.sort(function (a, b) {
        var x = hundredths(a[at]), y = hundredths(b[at]);
        return abs(y) > abs(x) ? 1 : abs(y) < abs(x) ? -1 : y > x ? 1 : y < x ? -1 : String(a[1]).localeCompare(String(b[1])) || (a[2] - b[2]);
      });
      var shown = fixed.concat(lines.slice(0, EXPLAIN.limit || 10));
      var result = lineResult(req, columns, { count: count, total: fromHundredths(total), shown: shown,
        more: { count: count - shown.length, total: fromHundredths(total - sumOf(shown, columns)) } }, parts, (st.models || {})[req.statement]);
      var earningsLine = parts.some(function (p) { return p[2] === "current" || p[2] === "retained"; });
      result.doc = (st.docs || {})[earningsLine ? "earnings" : req.statement];
      result.noun = st.noun;
      return result;
    }

    function lineResult(req, columns, rows, parts, model) {
      var names = EXPLAIN.accounts || {};
      return { label: req.label, period: req.period, value: req.value === undefined ? null : req.value, kind: "lines", statement: true, columns: columns,
        rows: rows, ties: req.value !== null && req.value !== undefined && hundredths(rows.total) === hundredths(req.value), model: model,
        accounts: (parts || []).map(function (p) { return Array.isArray(p) ? { account_id: p[0], account_name: names[p[0]], sign: p[1] } : p; }) };
    }

    function fetchExplanation(req) {
      var q = req.kpi ? "figure=" + encodeURIComponent(req.kpi) : "statement=" + encodeURIComponent(req.statement) +
        "&rollup=" + encodeURIComponent(req.rollup) + "&line=" + encodeURIComponent(req.line_id);
      return fetch(SERVED.explain_url + "?" + q + "&period=" + encodeURIComponent(req.period),
        { headers: { "Accept": "application/json", "X-Closeboard-Token": SERVED.token }, cache: "no-store" })
        .then(function (r) { return r.json().then(function (body) { if (!r.ok) throw new Error(body.error || ("HTTP " + r.status)); return body; }); })
        .then(function (body) {
          if (req.kpi) return body;
          var result = lineResult(req, body.columns, body.rows, body.accounts, body.model);
          result.doc = body.doc;
          result.noun = body.noun;
          return result;
        });
    }

    function formatAmount(value, req) {
      var fmt = req.format ? formatOf(req.format) || {} : { money: true };  // a statement line: money
      return fmt.money ? money(value, CURRENCY, true) : number(value, 2, fmt.suffix);
    }

    function definitionNode(steps) {
      var pre = el("pre", { class: "explain-sql" });
      pre.textContent = (steps || []).slice().reverse().map(function (s) {
        return s.cte + ": " + s.sql.replace(/\s+/g, " ") + (s.from ? "\n    " + s.from.replace(/\s+/g, " ") : "");
      }).join("\n");
      return pre;
    }

    function rowsTable(node, from) {
      var t = tableRows(node.rows.shown, node.columns || []);
      var names = EXPLAIN.accounts || {};
      var table = el("table", { class: "explain-rows" }), head = el("tr");
      t.columns.forEach(function (c) { head.appendChild(el("th", { scope: "col", class: c === "amount" ? "num" : "" }, COLUMN_LABELS[c] || c)); });
      var thead = el("thead"); thead.appendChild(head); table.appendChild(thead);
      var body = el("tbody");
      t.rows.forEach(function (r) {
        var tr = el("tr");
        t.columns.forEach(function (c, i) {
          var v = r[i];
          var text = v === null || v === undefined ? "" : c === "amount" ? money(v, CURRENCY, true) : c === "account_id" && names[v] ? v + " " + names[v] : String(v);
          var td = el("td", { class: c === "amount" ? "num" : c === "description" ? "wrap" : "" }, text);
          if (c === "amount") td.setAttribute("data-raw", String(v));
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      table.appendChild(body);
      var wrap = el("div", { class: "explain-table-wrap" });
      wrap.appendChild(table);
      from.appendChild(wrap);
    }

    function nodeView(node, req, depth) {
      var box = el("div", { class: "explain-node", "data-node": node.name || "" });
      if (depth) box.appendChild(el("h3", null, (node.name || "") + " " + (node.period || "") + ": " + (node.value === null ? "no data" : formatAmount(node.value, depth ? {} : req))));
      if (node.definition && node.definition.length) box.appendChild(definitionNode(node.definition));
      if (node.kind === "value") {
        box.appendChild(el("p", null, "= " + (node.value === null ? "null" : node.value) + " (" + node.table + "." + node.name + ")"));
      } else if (node.kind === "formula" || node.kind === "window") {
        box.appendChild(el("p", { class: "explain-formula" }, "= " + (node.formula || "").replace(/\s+/g, " ")));
        (node.components || []).forEach(function (c) { if (depth < 3) box.appendChild(nodeView(c, req, depth + 1)); });
      } else if (node.rows) {
        var noun = node.noun || (node.kind === "lines" ? "journal lines" : "records of " + (node.reads || "the source"));
        var summary = el("p", { class: "explain-sum " + (node.ties ? "ties" : "no-tie"), "data-count": String(node.rows.count), "data-total": node.rows.total });
        summary.textContent = node.rows.count.toLocaleString("en-US") + " " + noun + ", sum " + money(node.rows.total, CURRENCY, true) +
          (node.ties ? " = the figure " : " does not tie to the figure ") + (node.value === null ? "(no data)" : money(node.value, CURRENCY, true)) +
          (node.rows.shown.length ? "; largest first:" : ".");
        box.appendChild(summary);
        if (node.rows.shown.length) rowsTable(node, box);
        if (node.rows.more.count > 0) {
          box.appendChild(el("p", { class: "explain-more", "data-count": String(node.rows.more.count), "data-total": node.rows.more.total },
            "and " + node.rows.more.count.toLocaleString("en-US") + " more totalling " + money(node.rows.more.total, CURRENCY, true) +
            (SERVED ? "" : " — left out of this file; `closeboard serve` shows them all" + (req.kpi ? ", as does `closeboard explain " + req.kpi + " --period " + req.period + "`" : "")) + "."));
        }
      }
      return box;
    }

    function sourcesView(sources) {
      var box = el("div", { class: "explain-sources" });
      box.appendChild(el("h3", null, "Sources (the run that loaded each table, and its MCP calls)"));
      var list = el("ul");
      (sources || []).forEach(function (s) {
        var calls = s.calls || [];
        var text = s.table_name + ": " + s.source + " " + s.tool + (s.run_id ? ", run " + s.run_id : "") +
          (s.loaded_at ? ", loaded " + String(s.loaded_at).slice(0, 19).replace("T", " ") : "") +
          (s.rows_loaded !== undefined && s.rows_loaded !== null ? ", " + Number(s.rows_loaded).toLocaleString("en-US") + " rows" : "") +
          ", " + calls.length + " call(s)" + (calls.length ? ": " + calls.slice(0, 3).map(function (c) {
            return c.tool + " page " + c.page + " (" + (c.items === null ? "-" : c.items) + " items, " + c.status + ")";
          }).join(", ") + (calls.length > 3 ? ", …" : "") : "");
        list.appendChild(el("li", null, text));
      });
      box.appendChild(list);
      return box;
    }

    function showExplanation(req, result) {
      var p = explainPanel();
      var body = p.querySelector(".explain-body");
      body.textContent = "";
      if (result.error) { body.appendChild(el("p", { class: "explain-error" }, result.error)); return; }
      var info = periodInfo(req.period);
      if (info.is_open) body.appendChild(el("p", { class: "note" }, "Month to date, through " + info.through + "."));
      if (!req.kpi && result.doc) {
        body.appendChild(el("p", { class: "explain-doc" }, result.doc + " Parts: " + result.accounts.map(function (a) {
          return a.account_id + (a.account_name ? " " + a.account_name : "");
        }).join(", ") + " (" + (result.model || "") + ")."));
      } else if (!req.kpi) {
        body.appendChild(el("p", { class: "explain-doc" }, "Income statement line, the month's journal lines posted on " +
          result.accounts.map(function (a) { return (a.sign < 0 ? "minus " : "") + a.account_id + (a.account_name ? " " + a.account_name : ""); }).join(", ") +
          " (revenue credit − debit, expenses debit − credit; " + (result.model || "") + ")."));
      } else if (result.doc) {
        body.appendChild(el("p", { class: "explain-doc" }, result.doc.replace(/\s+/g, " ")));
      }
      var kpiValueShown = req.kpi ? kpiValue(req.period, { kpi: req.kpi }) : null;
      if (req.kpi && kpiValueShown !== null && result.value !== null && hundredths(kpiValueShown) !== hundredths(result.value)) {
        body.appendChild(el("p", { class: "note" }, "The tile shows the closed version's figure; this explains the ledger as it is now."));
      }
      if (req.kpi && result.model) body.appendChild(el("p", { class: "note" }, "Definition (" + result.model + "):"));
      body.appendChild(nodeView(result, req, 0));
      if (req.kpi) body.appendChild(sourcesView(result.sources));
      p.querySelector("h2").textContent = (req.label || req.kpi) + " — " + req.period + ": " +
        (result.value === null || result.value === undefined ? "no data" : formatAmount(result.value, req));
    }

    function openExplain(req, opener) {
      var p = explainPanel(opener);
      p.hidden = false;
      document.documentElement.setAttribute("data-explain", req.kpi || req.line_id);
      p.setAttribute("data-request", req.kpi ? "kpi:" + req.kpi : "line:" + req.rollup + ":" + req.line_id);
      p.setAttribute("data-mode", SERVED && SERVED.explain_url ? "served" : "embedded");
      p.removeAttribute("data-ready");
      p.querySelector("h2").textContent = (req.label || req.kpi) + " — " + req.period;
      var body = p.querySelector(".explain-body");
      body.textContent = SERVED && SERVED.explain_url ? "Loading every line from the server…" : "";
      p.querySelector(".explain-close").focus();
      var done = function (result) { showExplanation(req, result); p.setAttribute("data-ready", "1"); };
      if (SERVED && SERVED.explain_url) {
        fetchExplanation(req).then(done).catch(function (err) { done({ error: "Could not fetch the explanation: " + err.message }); });
      } else {
        done(req.kpi ? embeddedKpi(req) : req.statement && req.statement !== "income_statement" ? embeddedBalanceLine(req) : embeddedLine(req));
      }
    }

    return { open: openExplain };
  }

  return {
    el: el, formatOf: formatOf, display: display, isNumeric: isNumeric, isMoney: isMoney, fromHundredths: fromHundredths,
    tileCard: tileCard, drawTile: drawTile, chart: chart, spark: spark, charts: charts,
    buildTable: buildTable, drawTable: drawTable, statementBody: statementBody,
    explainPanel: explainPanel, closeExplain: closeExplain, explainer: explainer, shiftPeriod: shiftPeriod,
  };
};
