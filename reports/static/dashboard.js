/* closeboard dashboard: draws the declared sections from the embedded data.
 *
 * Every string from a source reaches the page through textContent or a canvas, never as HTML.
 * Money arrives as decimal strings and is handled as BigInt hundredths: formatting, totals and
 * sorting are exact; only chart geometry uses floating point.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("cb-data").textContent);
  var servedEl = document.getElementById("cb-served");
  var SERVED = servedEl ? JSON.parse(servedEl.textContent) : null;
  var META = DATA.meta;
  var CURRENCY = META.currency;
  var SYMBOLS = { USD: "$", EUR: "€", GBP: "£", JPY: "¥", CHF: "CHF " };
  var PERIODS = META.periods.map(function (p) { return p.period; });
  var state = { period: META.default_period };
  var charts = {};
  var redrawers = [];

  // ------------------------------------------------------------------ exact decimals

  function hundredths(value) {
    if (value === null || value === undefined || value === "") return null;
    var s = String(value).trim();
    var neg = s.charAt(0) === "-";
    if (neg || s.charAt(0) === "+") s = s.slice(1);
    var parts = s.split(".");
    var frac = (parts[1] || "") + "00";
    var v = BigInt(parts[0] || "0") * 100n + BigInt(frac.slice(0, 2));
    if (frac.length > 2 && frac.charAt(2) >= "5") v += 1n;  // half away from zero
    return neg ? -v : v;
  }

  function abs(v) { return v < 0n ? -v : v; }

  // |v| (hundredths) rounded half away from zero to `places` (0..2), as a grouped string
  function digits(v, places) {
    var a = abs(v);
    var div = places === 0 ? 100n : places === 1 ? 10n : 1n;
    var q = div === 1n ? a : (a + div / 2n) / div;
    var scale = places === 0 ? 1n : places === 1 ? 10n : 100n;
    var whole = (q / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    if (places === 0) return { text: whole, zero: q === 0n };
    var frac = (q % scale).toString().padStart(places, "0");
    return { text: whole + "." + frac, zero: q === 0n };
  }

  function symbolOf(currency) {
    var c = currency || CURRENCY;
    return Object.prototype.hasOwnProperty.call(SYMBOLS, c) ? SYMBOLS[c] : c + " ";
  }

  function negative(v, d) { return v < 0n && !d.zero; }

  function money(value, currency, cents) {
    var v = hundredths(value);
    if (v === null) return "—";
    var d = digits(v, cents ? 2 : 0);
    var text = symbolOf(currency) + d.text;
    return negative(v, d) ? "(" + text + ")" : text;
  }

  function number(value, places, suffix) {
    var v = hundredths(value);
    if (v === null) return "—";
    var d = digits(v, places);
    var text = d.text + (suffix || "");
    return negative(v, d) ? "(" + text + ")" : text;
  }

  function display(value, format, currency) {
    switch (format || "text") {
      case "money": return money(value, currency, false);
      case "money_cents": return money(value, currency, true);
      case "percent": return number(value, 1, "%");
      case "number": return number(value, 1);
      case "integer": return number(value, 0);
      default: return value === null || value === undefined ? "—" : String(value);
    }
  }

  function isNumeric(format) {
    return ["money", "money_cents", "percent", "number", "integer"].indexOf(format) >= 0;
  }

  // ------------------------------------------------------------------ data helpers

  function dataset(name) { return DATA.datasets[name]; }

  function records(name) {
    var ds = dataset(name);
    if (!ds) return [];
    if (!ds._records) {
      ds._records = ds.rows.map(function (row) {
        var r = {};
        ds.columns.forEach(function (c, i) { r[c] = row[i]; });
        return r;
      });
    }
    return ds._records;
  }

  var kpiIndex = null;
  function kpis() {
    if (!kpiIndex) {
      kpiIndex = {};
      records(META.kpi_query).forEach(function (r) {
        (kpiIndex[r.period] = kpiIndex[r.period] || {})[r.kpi] = r.value;
      });
    }
    return kpiIndex;
  }

  function kpiValue(period, spec) {
    var row = kpis()[period];
    if (!row) return null;
    if (spec.sum_of) {
      var total = 0n;
      for (var i = 0; i < spec.sum_of.length; i++) {
        var v = hundredths(row[spec.sum_of[i]]);
        if (v === null) return null;
        total += v;
      }
      return fromHundredths(total);
    }
    var value = row[spec.kpi || spec];
    return value === undefined ? null : value;
  }

  function fromHundredths(v) {
    var a = abs(v);
    var s = (a / 100n).toString() + "." + (a % 100n).toString().padStart(2, "0");
    return v < 0n ? "-" + s : s;
  }

  function shiftPeriod(period, months) {
    var y = parseInt(period.slice(0, 4), 10), m = parseInt(period.slice(5, 7), 10) - 1 + months;
    y += Math.floor(m / 12); m = ((m % 12) + 12) % 12;
    return y + "-" + String(m + 1).padStart(2, "0");
  }

  function windowEnding(period, n) {
    var i = PERIODS.indexOf(period);
    return PERIODS.slice(Math.max(0, i - n + 1), i + 1);
  }

  function periodInfo(period) {
    for (var i = 0; i < META.periods.length; i++) if (META.periods[i].period === period) return META.periods[i];
    return {};
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === "class") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function sectionNode(id) { return document.querySelector('[data-section="' + id + '"]'); }

  // ------------------------------------------------------------------ tiles

  function change(kind, current, previous, better) {
    var c = hundredths(current), p = hundredths(previous);
    if (c === null || p === null) return null;
    var diff = c - p, text;
    if (kind === "money") {
      if (p === 0n) return null;
      var tenths = (abs(diff) * 1000n * 2n + abs(p)) / (2n * abs(p));  // |diff / p| in 0.1%
      var pct = (tenths / 10n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + (tenths % 10n).toString();
      text = pct + "%";
    } else {
      text = digits(diff, 1).text + (kind === "percent" ? " pp" : "");
    }
    var dir = diff > 0n ? "up" : diff < 0n ? "down" : "flat";
    var arrow = dir === "up" ? "▲ " : dir === "down" ? "▼ " : "■ ";
    var cls = dir === "flat" || better === "none" || !better ? "" : dir + "-" + ((better === "up") === (dir === "up") ? "good" : "bad");
    return { text: arrow + text, cls: cls };
  }

  function drawTiles(section) {
    var node = sectionNode(section.id);
    var p = state.period, prev = shiftPeriod(p, -1), yearAgo = shiftPeriod(p, -12);
    section.tiles.forEach(function (tile) {
      var card = node.querySelector('[data-kpi="' + tile.kpi + '"]');
      if (!card) return;
      var value = kpiValue(p, tile);
      card.setAttribute("data-value", value === null ? "" : value);
      card.querySelector(".tile-value").textContent = display(value, tile.format, CURRENCY);
      if (tile.format === "money") {  // the tile rounds to the unit; the exact figure on hover and focus
        var exact = card.querySelector(".tile-exact");
        if (!exact) {
          exact = el("div", { class: "tile-exact" });
          card.querySelector(".tile-value").after(exact);
          card.tabIndex = 0;
        }
        exact.textContent = value === null ? "" : "exactly " + money(value, CURRENCY, true);
        card.querySelector(".tile-value").title = value === null ? "" : money(value, CURRENCY, true);
      }
      var kind = tile.format === "money" ? "money" : tile.format === "percent" ? "percent" : "number";
      [["mom", prev, "vs prior month"], ["yoy", yearAgo, "vs a year before"]].forEach(function (spec) {
        var span = card.querySelector("." + spec[0]);
        var ch = change(kind, value, kpiValue(spec[1], tile), tile.better);
        span.className = spec[0] + (ch && ch.cls ? " " + ch.cls : "");
        span.textContent = ch ? ch.text + " " + (spec[0] === "mom" ? "MoM" : "YoY") : (spec[0] === "mom" ? "MoM —" : "YoY —");
        span.title = spec[2] + (kpis()[spec[1]] ? " (" + spec[1] + ")" : ": no figure");
      });
      var periods = windowEnding(p, section.spark_periods || 13);
      var values = periods.map(function (q) { var v = kpiValue(q, tile); return v === null ? null : Number(v); });
      var key = section.id + ":" + tile.kpi;
      var canvas = card.querySelector(".spark canvas");
      if (!window.Chart || !canvas) return;
      if (charts[key]) {
        charts[key].data.labels = periods;
        charts[key].data.datasets[0].data = values;
        charts[key].update("none");
      } else {
        charts[key] = new Chart(canvas, {
          type: "line",
          data: { labels: periods, datasets: [{ data: values, borderColor: "#64748b", borderWidth: 1.5, pointRadius: 0, tension: 0.25, spanGaps: true }] },
          options: {
            animation: false, responsive: true, maintainAspectRatio: false, events: [],
            plugins: { legend: { display: false }, tooltip: { enabled: false } },
            scales: { x: { display: false }, y: { display: false } },
          },
        });
      }
    });
  }

  // ------------------------------------------------------------------ charts

  function chartOptions(format, currency) {
    return {
      animation: false, responsive: true, maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { position: "bottom", labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            label: function (ctx) {
              var raw = ctx.dataset.raw ? ctx.dataset.raw[ctx.dataIndex] : ctx.parsed.y;
              return ctx.dataset.label + ": " + display(raw, format === "money" ? "money_cents" : format, currency);
            },
          },
        },
      },
      scales: {
        y: { ticks: { callback: function (v) { return display(String(Math.round(v)), format === "money" ? "money" : format, currency); } } },
      },
    };
  }

  function upsertChart(key, canvas, config) {
    if (charts[key]) {
      charts[key].data = config.data;
      charts[key].update("none");
    } else {
      charts[key] = new Chart(canvas, config);
    }
    return charts[key];
  }

  function chartShell(section) {
    var body = sectionNode(section.id).querySelector(".body");
    if (!body.firstChild) {
      var box = el("div", { class: "chart" });
      box.appendChild(el("canvas", { role: "img", "aria-label": section.title }));
      body.appendChild(box);
      body.appendChild(el("div", { class: "chart-total" }));
    }
    return body;
  }

  function drawLineChart(section) {
    var body = chartShell(section);
    var periods = windowEnding(state.period, section.window || 13);
    var datasets = section.series.map(function (s) {
      var raw = periods.map(function (p) { return kpiValue(p, s); });
      return {
        label: s.label, raw: raw,
        data: raw.map(function (v) { return v === null ? null : Number(v); }),
        borderColor: s.color, backgroundColor: section.fill ? s.color + "22" : s.color,
        fill: !!section.fill, tension: 0.2, borderWidth: 2,
        pointRadius: periods.map(function (p) { return p === state.period ? 5 : 2; }),
      };
    });
    upsertChart(section.id, body.querySelector("canvas"), {
      type: "line", data: { labels: periods, datasets: datasets }, options: chartOptions(section.format, CURRENCY),
    });
    var last = datasets.map(function (d) { return d.label + " " + display(d.raw[d.raw.length - 1], section.format, CURRENCY); });
    body.querySelector(".chart-total").textContent = state.period + ": " + last.join(" · ");
  }

  function drawBarChart(section) {
    var body = chartShell(section);
    var rows = records(section.query);
    if (section.period_column) {
      rows = rows.filter(function (r) { return r[section.period_column] === state.period; });
    }
    var labels = rows.map(function (r) { return String(r[section.category]); });
    var datasets = section.values.map(function (v) {
      var raw = rows.map(function (r) { return r[v.column]; });
      return { label: v.label, raw: raw, data: raw.map(function (x) { return x === null ? null : Number(x); }), backgroundColor: v.color };
    });
    upsertChart(section.id, body.querySelector("canvas"), {
      type: "bar", data: { labels: labels, datasets: datasets }, options: chartOptions(section.format, CURRENCY),
    });
    var totals = section.values.map(function (v) {
      var t = 0n;
      rows.forEach(function (r) { var x = hundredths(r[v.column]); if (x !== null) t += x; });
      return v.label + " total " + display(fromHundredths(t), section.format, CURRENCY);
    });
    var totalNode = body.querySelector(".chart-total");
    totalNode.textContent = (section.period_column ? state.period + ": " : "") + totals.join(" · ");
    totalNode.setAttribute("data-total", section.values.map(function (v) {
      var t = 0n;
      rows.forEach(function (r) { var x = hundredths(r[v.column]); if (x !== null) t += x; });
      return fromHundredths(t);
    }).join(" "));
  }

  // ------------------------------------------------------------------ tables

  var tables = {};

  function compare(a, b, format) {
    if (a === null || a === undefined) return b === null || b === undefined ? 0 : 1;  // blanks last
    if (b === null || b === undefined) return -1;
    if (isNumeric(format)) {
      var x = hundredths(a), y = hundredths(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: "base" });
  }

  function buildTable(section) {
    var body = sectionNode(section.id).querySelector(".body");
    var t = {
      section: section, filter: "", facet: "",
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
    var wrap = el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": section.title });
    var table = el("table", { id: "table-" + section.id });
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
    t.tbody = el("tbody");
    table.appendChild(t.tbody);
    t.tfoot = el("tfoot");
    table.appendChild(t.tfoot);
    wrap.appendChild(table);
    body.appendChild(wrap);
    tables[section.id] = t;
    return t;
  }

  function drawTable(t) {
    var section = t.section;
    var all = records(section.query);
    if (section.period_column) all = all.filter(function (r) { return r[section.period_column] === state.period; });
    if (t.facetSelect) {
      var values = [];
      all.forEach(function (r) { var v = r[section.facet.column]; if (values.indexOf(v) < 0) values.push(v); });
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
    // totals over the rows the filter keeps, one line per currency
    t.tfoot.textContent = "";
    var totalCols = section.columns.filter(function (c) { return c.total; });
    var currencies = [];
    rows.forEach(function (r) { var c = currencyOf(r); if (currencies.indexOf(c) < 0) currencies.push(c); });
    if (!currencies.length) currencies.push(CURRENCY);
    if (totalCols.length) {
      currencies.forEach(function (cur, i) {
        var tr = el("tr", { class: "total", "data-currency": cur });
        section.columns.forEach(function (col, j) {
          var td = el("td", { class: isNumeric(col.format) ? "num" : "", "data-column": col.name });
          if (col.total) {
            var sum = 0n, moneyCol = col.format === "money" || col.format === "money_cents";
            rows.forEach(function (r) {
              if (moneyCol && currencyOf(r) !== cur) return;
              var v = hundredths(r[col.name]);
              if (v !== null) sum += v;
            });
            if (moneyCol || i === 0) {
              var raw = fromHundredths(sum);
              td.textContent = display(raw, col.format, cur);
              td.setAttribute("data-raw", raw);
            }
          } else if (j === 0) {
            td.textContent = currencies.length > 1 ? "Total " + cur : "Total";
          }
          tr.appendChild(td);
        });
        t.tfoot.appendChild(tr);
      });
    }
    t.count.textContent = rows.length + " of " + all.length + " rows";
    t.count.setAttribute("data-rows", String(rows.length));
  }

  // ------------------------------------------------------------------ reconciliation

  function drawRecon(section) {
    var body = sectionNode(section.id).querySelector(".body");
    var summary = document.getElementById("recon-summary");
    var rows = records(section.query).filter(function (r) { return r.period === state.period; });
    body.textContent = "";
    if (!rows.length) {
      body.appendChild(el("p", { class: "missing" }, "Not reconciled for " + state.period + " yet."));
      summary.className = "chip";
      summary.textContent = "reconciliation: not run for " + state.period;
      return;
    }
    var counts = { pass: 0, warn: 0, fail: 0, not_configured: 0 };
    rows.forEach(function (r) { counts[r.status] = (counts[r.status] || 0) + 1; });
    var worst = counts.fail ? "fail" : counts.warn ? "warn" : "pass";
    summary.className = "chip " + worst;
    summary.textContent = (counts.fail ? "reconciliation: " + counts.fail + " failing (blocks sign-off)"
      : counts.warn ? "reconciliation: passes, " + counts.warn + " warning" + (counts.warn > 1 ? "s" : "")
      : "reconciliation: all checks pass")
      + (counts.not_configured ? " (" + counts.not_configured + " not configured)" : "");
    var list = el("div", { class: "recon-list" });
    rows.forEach(function (r) {
      var card = el("article", { class: "check", "data-check": r.check_id, "data-status": r.status });
      var head = el("header");
      head.appendChild(el("strong", null, (section.checks && section.checks[r.check_id]) || r.check_id));
      head.appendChild(el("span", { class: "badge " + r.status }, r.status === "not_configured" ? "not configured" : r.status));
      card.appendChild(head);
      if (r.expected !== null || r.actual !== null) {
        card.appendChild(el("div", { class: "figures" },
          "expected " + money(r.expected, CURRENCY, true) + " · actual " + money(r.actual, CURRENCY, true)
          + " · difference " + money(r.difference, CURRENCY, true)));
      }
      if (r.detail) card.appendChild(el("p", { class: "detail" }, r.detail));
      if (r.items > 0 && tables[section.items_section]) {
        var btn = el("button", { type: "button", "data-drill": r.check_id }, "Show " + r.items + " item" + (r.items > 1 ? "s" : ""));
        btn.addEventListener("click", function () {
          var t = tables[section.items_section];
          t.facet = r.check_id;
          drawTable(t);
          var target = sectionNode(section.items_section);
          target.scrollIntoView({ block: "start" });
          t.input.focus({ preventScroll: true });
        });
        card.appendChild(btn);
        if (r.items > 200) card.appendChild(el("div", { class: "note" }, "the 200 largest are listed"));
      }
      list.appendChild(card);
    });
    body.appendChild(list);
  }

  // ------------------------------------------------------------------ runway what-if

  function drawRunway(section) {
    var body = sectionNode(section.id).querySelector(".body");
    if (!body.firstChild) {
      var grid = el("div", { class: "runway-grid" });
      grid.appendChild(el("label", { for: "burn-change" }, "Change in monthly burn (" + CURRENCY + ")"));
      var input = el("input", { type: "number", id: "burn-change", step: "1000", value: "0", inputmode: "decimal" });
      input.addEventListener("input", function () { drawRunway(section); });
      grid.appendChild(input);
      ["Cash at period end", "Mean monthly burn (3 months)", "Runway now", "Runway with the change"].forEach(function (label, i) {
        grid.appendChild(el("span", null, label));
        grid.appendChild(el("span", { class: "runway-out" + (i === 3 ? " big" : ""), "data-out": String(i) }));
      });
      body.appendChild(grid);
      body.appendChild(el("p", { class: "note" }, "Runway = cash ÷ (mean net burn of this and the two previous months + the change). A negative change is a saving."));
    }
    var outs = body.querySelectorAll(".runway-out");
    var p = state.period;
    var months = [p, shiftPeriod(p, -1), shiftPeriod(p, -2)];
    var cash = hundredths(kpiValue(p, "cash"));
    var burns = months.map(function (m) { return hundredths(kpiValue(m, "net_burn")); });
    var raw = document.getElementById("burn-change").value.trim();
    var delta = /^-?\d+(\.\d+)?$/.test(raw) ? hundredths(raw) : (raw === "" ? 0n : null);
    outs[0].textContent = cash === null ? "—" : money(fromHundredths(cash), CURRENCY);
    outs[2].textContent = display(kpiValue(p, "runway_months"), "number") + " months";
    if (cash === null || burns.some(function (b) { return b === null; })) {
      outs[1].textContent = "not enough history";
      outs[3].textContent = "—";
      outs[3].setAttribute("data-value", "");
      return;
    }
    var sum3 = burns[0] + burns[1] + burns[2];
    outs[1].textContent = money(fromHundredths(sum3 / 3n), CURRENCY);
    if (delta === null) { outs[3].textContent = "enter an amount"; outs[3].setAttribute("data-value", ""); return; }
    var denom = sum3 + 3n * delta;  // 3 x (mean burn + change), in hundredths
    if (denom <= 0n) {
      outs[3].textContent = "not burning cash";
      outs[3].setAttribute("data-value", "");
      return;
    }
    // runway = 3 x cash / denom, in hundredths of a month, half away from zero
    var num = 3n * cash * 100n;
    var q = (abs(num) * 2n + denom) / (2n * denom);
    var runway = num < 0n ? -q : q;
    var value = fromHundredths(runway);
    outs[3].textContent = display(value, "number") + " months";
    outs[3].setAttribute("data-value", value);
  }

  // ------------------------------------------------------------------ statements

  var statementState = {};

  // the figures (period, line, columns) joined to their lines (statement, rollup, label, kind, depth),
  // grouped per period, statement and rollup in the lines' order
  function statementRows(section, rollup) {
    var byKey = section._byKey;
    if (!byKey) {
      byKey = section._byKey = {};
      var lines = {};
      records(section.more_queries[0]).forEach(function (l) { lines[l.line] = l; });
      records(section.query).forEach(function (r) {
        var l = lines[r.line];
        if (!l) return;
        var row = { line_id: l.line_id, label: l.label, kind: l.kind, depth: l.depth, order: l.line_order };
        section.columns.forEach(function (c) { row[c.name] = r[c.name]; });
        var key = r.period + "|" + l.statement + "|" + l.rollup;
        (byKey[key] = byKey[key] || []).push(row);
      });
      Object.keys(byKey).forEach(function (k) { byKey[k].sort(function (a, b) { return a.order - b.order; }); });
    }
    return function (period, statement) { return byKey[period + "|" + statement + "|" + rollup] || []; };
  }

  function columnHeading(section, statement, col) {
    if (col.name === "ytd" && statement.ytd_label) return statement.ytd_label;
    if (col.shift) return col.label + " (" + shiftPeriod(state.period, col.shift) + ")";
    if (col.name === "amount") return state.period;
    return col.label;
  }

  function drawStatements(section) {
    var body = sectionNode(section.id).querySelector(".body");
    var st = statementState[section.id];
    if (!st) {
      st = statementState[section.id] = { rollup: section.rollups[0].id };
      var tools = el("div", { class: "table-tools" });
      var pickId = "rollup-" + section.id;
      tools.appendChild(el("label", { for: pickId }, "Show"));
      var pick = el("select", { id: pickId });
      section.rollups.forEach(function (r) { pick.appendChild(el("option", { value: r.id }, r.label)); });
      pick.addEventListener("change", function () { st.rollup = pick.value; drawStatements(section); });
      tools.appendChild(pick);
      body.appendChild(tools);
      st.blocks = section.statements.map(function (spec) {
        var block = el("div", { class: "statement", "data-statement": spec.id });
        var headingId = "h-" + section.id + "-" + spec.id;
        block.appendChild(el("h3", { id: headingId }, spec.label));
        var wrap = el("div", { class: "statement-wrap", tabindex: "0", role: "region", "aria-labelledby": headingId });
        var table = el("table", { class: "statement-table", id: "statement-" + spec.id });
        var thead = el("thead"), tr = el("tr");
        tr.appendChild(el("th", { scope: "col", class: "line" }, "Line"));
        section.columns.forEach(function (col) { tr.appendChild(el("th", { scope: "col", class: "num", "data-column": col.name })); });
        thead.appendChild(tr);
        table.appendChild(thead);
        table.appendChild(el("tbody"));
        wrap.appendChild(table);
        block.appendChild(wrap);
        block.appendChild(el("p", { class: "statement-check" }));
        body.appendChild(block);
        return { spec: spec, block: block, table: table };
      });
    }
    var rowsOf = statementRows(section, st.rollup);
    var info = periodInfo(state.period);
    var note = body.querySelector(".statement-note");
    if (!note) { note = el("p", { class: "note statement-note" }); body.insertBefore(note, st.blocks[0].block); }
    note.textContent = info.is_open ? state.period + " is the open month: its column is month to date."
      : info.closed_version !== null && info.closed_version !== undefined
        ? "The statements show the ledger as it is now" + (info.restated_since_close ? ", restated since the close." : " (the same figures as at the close).")
        : "";
    st.blocks.forEach(function (b) {
      b.table.querySelectorAll("thead th[data-column]").forEach(function (th) {
        var col = section.columns.filter(function (c) { return c.name === th.getAttribute("data-column"); })[0];
        th.textContent = columnHeading(section, b.spec, col);
      });
      var rows = rowsOf(state.period, b.spec.id);
      var tbody = b.table.querySelector("tbody");
      var frag = document.createDocumentFragment();
      rows.forEach(function (r) {
        var tr = el("tr", { class: "kind-" + r.kind, "data-line": r.line_id });
        var th = el("th", { scope: "row", class: "line depth-" + Math.min(r.depth || 0, 4) }, r.label);
        tr.appendChild(th);
        section.columns.forEach(function (col) {
          var raw = r[col.name];
          var text = r.kind === "heading" ? "" : raw === null || raw === undefined ? "no data" : money(raw, CURRENCY, true);
          var td = el("td", { class: "num" + (raw === null && r.kind !== "heading" ? " nodata" : ""), "data-column": col.name }, text);
          td.setAttribute("data-raw", raw === null || raw === undefined ? "" : String(raw));
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      });
      tbody.textContent = "";
      tbody.appendChild(frag);
      if (!rows.length) {
        var empty = el("tr"), cell = el("td", { colspan: String(section.columns.length + 1), class: "missing" }, "No statement for " + state.period + ".");
        empty.appendChild(cell);
        tbody.appendChild(empty);
      }
      var check = b.block.querySelector(".statement-check");
      if (b.spec.balances) {  // two lines that must be equal: assets = liabilities + equity
        var pair = b.spec.balances.map(function (id) {
          var hit = rows.filter(function (r) { return r.line_id === id; })[0];
          return hit ? hundredths(hit.amount) : null;
        });
        var ok = pair[0] !== null && pair[0] === pair[1];
        check.textContent = pair[0] === null || pair[1] === null ? "" : ok
          ? "Balances: total assets equal total liabilities and equity."
          : "Does not balance: assets less liabilities and equity = " + money(fromHundredths(pair[0] - pair[1]), CURRENCY, true) + ".";
        check.className = "statement-check " + (pair[0] === null || pair[1] === null ? "" : ok ? "pass" : "fail");
      }
      if (b.spec.check) {
        var line = rows.filter(function (r) { return r.line_id === b.spec.check; })[0];
        var diff = line ? hundredths(line.amount) : null;
        check.textContent = diff === null ? "" : diff === 0n
          ? "Ties: the net change equals the change in cash (difference " + money("0", CURRENCY, true) + ")."
          : "Does not tie: the net change differs from the change in cash by " + money(line.amount, CURRENCY, true) + ".";
        check.className = "statement-check " + (diff === null ? "" : diff === 0n ? "pass" : "fail");
      }
    });
  }

  // ------------------------------------------------------------------ header: period, freshness, reload

  function drawHeader() {
    var info = periodInfo(state.period);
    document.getElementById("focus-period").textContent = state.period || "—";
    var chip = document.getElementById("period-status");
    chip.textContent = info.status || "";
    if (info.closed_by) chip.textContent += " by " + info.closed_by + (info.closed_at ? " on " + String(info.closed_at).slice(0, 10) : "");
    chip.className = "chip" + (info.status === "closed" ? " closed" : info.status === "restated since close" ? " restated" : "");
    chip.title = info.override_reason ? "closed with override: " + info.override_reason : "";
  }

  function ageText(ms) {
    var min = Math.max(0, Math.round(ms / 60000));
    if (min < 60) return min + " min";
    var h = Math.floor(min / 60);
    if (h < 48) return h + " h " + (min % 60) + " min";
    return Math.floor(h / 24) + " days";
  }

  function drawAge() {
    var node = document.getElementById("data-age");
    if (!META.oldest_as_of) { node.textContent = "source freshness unknown"; return; }
    var age = Date.now() - Date.parse(META.oldest_as_of);
    node.textContent = "· data is " + ageText(age) + " old";
    node.classList.toggle("stale", age > 36 * 3600 * 1000);
    return age;
  }

  function redraw() {
    drawHeader();
    DATA.sections.forEach(function (section) {
      if (!section.available) return;
      try {
        switch (section.component) {
          case "tiles": drawTiles(section); break;
          case "line_chart": drawLineChart(section); break;
          case "bar_chart": drawBarChart(section); break;
          case "table": drawTable(tables[section.id] || buildTable(section)); break;
          case "recon": break;  // after the tables, so its drill-down finds them
          case "runway_whatif": drawRunway(section); break;
          case "statements": drawStatements(section); break;
        }
      } catch (err) {
        console.warn("section " + section.id + " could not be drawn", err);
      }
    });
    DATA.sections.forEach(function (section) { if (section.available && section.component === "recon") drawRecon(section); });
    redrawers.forEach(function (f) { f(); });
    document.documentElement.setAttribute("data-period", state.period || "");
  }

  // ------------------------------------------------------------------ served mode

  function served() {
    var button = document.getElementById("reload");
    var status = document.getElementById("served-status");
    document.querySelectorAll(".file-only").forEach(function (n) { n.hidden = true; });
    button.hidden = false;
    status.hidden = false;
    document.documentElement.setAttribute("data-mode", "served");
    var polling = null;
    var requested = false;  // this page asked for a refresh: reload itself when it has finished

    function say(text, cls) { status.textContent = text; status.className = "served-only" + (cls ? " " + cls : ""); }

    function offer(s) {
      say("");
      status.className = "served-only newer";
      status.appendChild(document.createTextNode("Newer data exists (refreshed " + (s.finished_at || "") + "). "));
      var show = el("button", { type: "button", id: "show-newer" }, "Show it");
      show.addEventListener("click", function () { location.reload(); });
      status.appendChild(show);
    }

    function poll() {
      return fetch(SERVED.status_url, { headers: { "Accept": "application/json" }, cache: "no-store" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          var job = s.refresh || {};
          if (job.state === "running") {
            button.disabled = true;
            say("Refreshing… " + (job.progress || "starting"));
            if (!polling) polling = setInterval(poll, 1000);
          } else {
            if (polling) { clearInterval(polling); polling = null; }
            button.disabled = false;
            if (job.state === "failed" && requested) {
              requested = false;
              say("Refresh failed: " + (job.error || "see the server log") + ". The figures below are unchanged.", "fail");
            } else if (s.run_id && s.run_id !== META.run_id) {
              if (job.state === "succeeded" && requested) { say("Refreshed: loading the new figures…"); location.reload(); return s; }
              offer(s);
            } else if (job.state === "succeeded") {
              say("Up to date.");
            }
          }
          return s;
        })
        .catch(function (err) { say("Cannot reach the closeboard server: " + err.message, "fail"); });
    }

    function refresh() {
      requested = true;
      button.disabled = true;
      say("Starting a refresh…");
      return fetch(SERVED.refresh_url, {
        method: "POST", headers: { "X-Closeboard-Token": SERVED.token, "Content-Type": "application/json" },
        body: JSON.stringify({ page_run_id: META.run_id }), cache: "no-store",
      }).then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok && r.status !== 409) throw new Error(body.error || ("HTTP " + r.status));
          if (!polling) polling = setInterval(poll, 1000);
          return poll();
        });
      }).catch(function (err) { button.disabled = false; say("Refresh refused: " + err.message, "fail"); });
    }

    button.addEventListener("click", refresh);
    poll().then(function (s) {
      if (!s || !SERVED.max_age_s) return;
      var job = s.refresh || {};
      // age from the end of the last refresh (a slow refresh is not "old" the moment it ends), and at most
      // one automatic refresh per max-age in this tab, so a page reloaded by its own refresh never loops
      var age = Date.now() - Date.parse(s.finished_at || META.rendered_at);
      var last = 0;
      try { last = Number(sessionStorage.getItem("closeboard-auto-refresh")) || 0; } catch (e) { last = 0; }
      var recently = Date.now() - last < SERVED.max_age_s * 1000;
      if (job.state !== "running" && s.run_id === META.run_id && age > SERVED.max_age_s * 1000 && !recently) {
        try { sessionStorage.setItem("closeboard-auto-refresh", String(Date.now())); } catch (e) { /* private mode */ }
        say("The data is older than " + ageText(SERVED.max_age_s * 1000) + ": refreshing…");
        refresh();
      }
    });
  }

  // ------------------------------------------------------------------ start

  var select = document.getElementById("period-select");
  select.addEventListener("change", function () { state.period = select.value; redraw(); });
  if (!state.period && PERIODS.length) state.period = PERIODS[PERIODS.length - 1];
  redraw();
  drawAge();
  setInterval(drawAge, 60000);
  if (SERVED) served();
  window.closeboard = { state: state, display: display, ready: true };
  document.documentElement.setAttribute("data-ready", "1");
})();
