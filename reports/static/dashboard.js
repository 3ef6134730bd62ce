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
  var SYMBOLS = META.symbols || {};
  var FORMATS = META.formats || {};  // sections.yaml `formats`: places, money, suffix, change
  var RULES = META.kpi_rules || {};  // sections.yaml `kpi_rules`: non_ledger, point_in_time, change
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

  // cents: true (2 places), false (whole units) or a number of places
  function money(value, currency, cents) {
    var v = hundredths(value);
    if (v === null) return "—";
    var d = digits(v, cents === true ? 2 : cents || 0);
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

  function formatOf(format) {
    return Object.prototype.hasOwnProperty.call(FORMATS, format || "") ? FORMATS[format] : null;
  }

  function display(value, format, currency) {
    var f = formatOf(format);
    if (!f) return value === null || value === undefined ? "—" : String(value);
    return f.money ? money(value, currency, f.places) : number(value, f.places, f.suffix);
  }

  function isNumeric(format) { return formatOf(format) !== null; }

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

  // a month without journal lines knows nothing of the ledger's figures: "no data", never 0
  function fromLedger(kpi) { return (RULES.non_ledger || []).indexOf(kpi) < 0; }
  function pointInTime(kpi) { return (RULES.point_in_time || []).indexOf(kpi) >= 0; }
  function hasLedger(period) { var info = periodInfo(period); return info.period !== undefined && info.ledger_lines > 0; }
  function kpisOf(spec) { return spec.sum_of ? spec.sum_of : [spec.kpi || spec]; }
  function noData(period, spec) {
    return !hasLedger(period) && kpisOf(spec).some(fromLedger);
  }
  // the months of `periods` that have no journal lines, for a range to name them
  function emptyMonths(periods) { return periods.filter(function (q) { return !hasLedger(q); }); }
  function namedGaps(months) {
    return months.length ? "no ledger lines in " + months.join(", ") + " (no data, not zero)" : "";
  }

  function kpiValue(period, spec) {
    var row = kpis()[period];
    if (!row || noData(period, spec)) return null;
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

  // The change from `base` to `current` (decimal strings) as a tile shows it: a percent for
  // `change: percent` formats, points or a difference otherwise. A percent on a base of the other
  // sign, or near zero (kpi_rules.change), is "n/m": not meaningful, and not coloured.
  function change(kind, current, base, better) {
    var c = hundredths(current), p = hundredths(base);
    if (c === null || p === null) return null;
    var diff = c - p, text;
    var dir = diff > 0n ? "up" : diff < 0n ? "down" : "flat";
    if (kind === "percent") {
      var rule = RULES.change || {};
      var minBase = hundredths(rule.min_base || "0");
      var share = BigInt(rule.min_base_share_pct || 0);
      var why = null;
      if (p === 0n) why = "the base is zero";
      else if (c !== 0n && (c < 0n) !== (p < 0n)) why = "the sign changed";
      else if (abs(p) < minBase || abs(p) * 100n < abs(c) * share) why = "the base is near zero";
      if (why) return { text: "n/m", cls: "nm", title: "not meaningful: " + why };
      var tenths = (abs(diff) * 1000n * 2n + abs(p)) / (2n * abs(p));  // |diff / p| in 0.1%
      var pct = (tenths / 10n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + (tenths % 10n).toString();
      text = pct + "%";
    } else {
      text = digits(diff, 1).text + (kind === "points" ? " pp" : "");
    }
    var arrow = dir === "up" ? "▲ " : dir === "down" ? "▼ " : "■ ";
    var cls = dir === "flat" || better === "none" || !better ? "" : dir + "-" + ((better === "up") === (dir === "up") ? "good" : "bad");
    return { text: arrow + text, cls: cls };
  }

  // the open month's comparison bases, from the journal (kpis_same_days.sql): compare -> kpi -> row
  var sameDaysIndex = null;
  function sameDays(section) {
    if (!sameDaysIndex) {
      sameDaysIndex = {};
      (section.more_queries || []).forEach(function (name) {
        records(name).forEach(function (r) {
          if (r.compare === undefined) return;
          (sameDaysIndex[r.compare] = sameDaysIndex[r.compare] || {})[r.kpi] = r;
        });
      });
    }
    return sameDaysIndex;
  }

  // what a tile's figure for `period` is compared with: {value, title} or {none, title}
  function comparisonBase(section, tile, period, which) {
    var target = shiftPeriod(period, which === "mom" ? -1 : -12);
    var word = which === "mom" ? "MoM" : "YoY";
    if (pointInTime(tile.kpi)) {
      return { none: which === "mom" ? "no history" : "", title: "today's figure: the source keeps no month-end history to compare with" };
    }
    if (!hasLedger(target) && fromLedger(tile.kpi)) {
      return { none: word + " —", title: target + ": no data" + (periodInfo(target).period ? " (no ledger lines)" : "") };
    }
    var info = periodInfo(period);
    if (info.is_open && fromLedger(tile.kpi)) {
      var row = (sameDays(section)[which] || {})[tile.kpi];
      if (!row) return { none: word + " —", title: "no same-days figure for " + target };
      return { value: row.value, title: "vs " + row.compared_period + "-01 to " + row.compared_through + ", the same " + info.days + " days" };
    }
    return { value: kpiValue(target, tile), title: which === "mom" ? "vs prior month (" + target + ")" : "vs a year before (" + target + ")" };
  }

  function drawTiles(section) {
    var node = sectionNode(section.id);
    var p = state.period, info = periodInfo(p);
    section.tiles.forEach(function (tile) {
      var card = node.querySelector('[data-kpi="' + tile.kpi + '"]');
      if (!card) return;
      var value = kpiValue(p, tile);
      var empty = noData(p, tile);
      var fmt = formatOf(tile.format) || {};
      card.setAttribute("data-value", value === null ? "" : value);
      card.classList.toggle("nodata", empty);
      var valueNode = card.querySelector(".tile-value");
      valueNode.textContent = empty ? "no data" : display(value, tile.format, CURRENCY);
      valueNode.title = empty ? "no ledger lines in " + p : value === null ? "not defined for " + p : "";
      if (fmt.money) {  // the tile rounds to the unit; the exact figure on hover and focus
        var exact = card.querySelector(".tile-exact");
        if (!exact) {
          exact = el("div", { class: "tile-exact" });
          valueNode.after(exact);
          card.tabIndex = 0;
        }
        exact.textContent = value === null ? "" : "exactly " + money(value, CURRENCY, true);
        if (value !== null) valueNode.title = money(value, CURRENCY, true);
      }
      // what the figure covers: month to date in the open month; today's figure for a point-in-time KPI
      var basis = card.querySelector(".tile-basis");
      if (!basis) { basis = el("div", { class: "tile-basis" }); card.querySelector(".tile-change").before(basis); }
      basis.textContent = pointInTime(tile.kpi) ? (info.is_open ? "" : "today's figure, not at " + (info.period_end || p))
        : info.is_open && !empty ? "month to date, through " + info.through : "";
      [["mom", "MoM"], ["yoy", "YoY"]].forEach(function (spec) {
        var span = card.querySelector("." + spec[0]);
        var base = empty ? { none: spec[1] + " —", title: p + ": no data" } : comparisonBase(section, tile, p, spec[0]);
        var ch = base.none === undefined ? change(fmt.change, value, base.value, tile.better) : null;
        span.className = spec[0] + (ch && ch.cls ? " " + ch.cls : "");
        span.textContent = ch ? ch.text + " " + spec[1] : base.none !== undefined ? base.none : spec[1] + " —";
        span.title = base.title + (ch && ch.title ? "; " + ch.title : "");
      });
      var periods = windowEnding(p, section.spark_periods || 13);
      var values = periods.map(function (q) { var v = kpiValue(q, tile); return v === null ? null : Number(v); });
      var key = section.id + ":" + tile.kpi;
      var canvas = card.querySelector(".spark canvas");
      if (pointInTime(tile.kpi)) { card.querySelector(".spark").hidden = true; return; }  // no history to draw
      if (!window.Chart || !canvas) return;
      if (charts[key]) {
        charts[key].data.labels = periods;
        charts[key].data.datasets[0].data = values;
        charts[key].update("none");
      } else {
        charts[key] = new Chart(canvas, {
          type: "line",
          data: { labels: periods, datasets: [{ data: values, borderColor: "#64748b", borderWidth: 1.5, pointRadius: 0, tension: 0.25, spanGaps: false }] },
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
    var labels = periods.map(function (q) { return periodInfo(q).is_open ? q + " (month to date)" : q; });
    upsertChart(section.id, body.querySelector("canvas"), {
      type: "line", data: { labels: labels, datasets: datasets }, options: chartOptions(section.format, CURRENCY),
    });
    var info = periodInfo(state.period);
    var last = datasets.map(function (d) {
      var v = d.raw[d.raw.length - 1];
      return d.label + " " + (v === null && noData(state.period, section.series[0]) ? "no data" : display(v, section.format, CURRENCY));
    });
    // the open month is a part month, and a month without journal lines is a gap, named, never a zero
    var gaps = emptyMonths(periods).filter(function (q) { return section.series.some(function (s) { return noData(q, s); }); });
    var total = body.querySelector(".chart-total");
    total.textContent = state.period + (info.is_open ? " (month to date, through " + info.through + ")" : "") + ": " + last.join(" · ")
      + (gaps.length ? ". Gaps: " + namedGaps(gaps) + "." : "");
    total.setAttribute("data-gaps", gaps.join(" "));
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

  // amounts inside a check's text (plain decimals from SQL: "statement 71452.50") shown as money, in the
  // currency the text names ("BA-001 (EUR): ...", "EUR: subledger ..."), else the company's
  function moneyIn(text, currency) {
    var named = /\b([A-Z]{3})\b[):]/.exec(text);
    var cur = named && Object.prototype.hasOwnProperty.call(SYMBOLS, named[1]) ? named[1] : named ? named[1] : currency || CURRENCY;
    return String(text).replace(/-?\d+\.\d{2}(?!\d)/g, function (x) { return money(x, cur, true); });
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function itemRef(record, date, amount, reason) {
    return record + (date ? " of " + date : "") + (amount === null || amount === undefined ? "" : ", " + money(amount, CURRENCY, true))
      + (reason ? " (" + moneyIn(reason) + ")" : "");
  }

  // A card's first sentence: what differs, by how much, how many items and the oldest; for a verdict
  // carried over from an earlier month, the month it began and the record that caused it.
  function reconSentence(r, label, counts) {
    // figures in rows (a count check) or money
    var fig = function (v) { return counts ? number(v, 0) : money(v, CURRENCY, true); };
    if (r.status === "not_configured") return "Not checked: " + (r.detail ? moneyIn(r.detail) : "a source it needs is not configured") + ".";
    var diff = hundredths(r.difference);
    var items = r.items ? plural(r.items, "item") + ", the oldest " + itemRef(r.oldest_record, r.oldest_date, r.oldest_amount) : "";
    var carried = r.status !== "pass" && r.since && r.since < r.period;
    var cause = !carried ? ""
      : (r.status === "fail" ? "failing" : "warning") + " since " + r.since
        + (r.since_record && r.since_record === r.oldest_record ? ", first caused by that same " + r.since_record
          + (r.since_reason ? " (" + moneyIn(r.since_reason) + ")" : "")
          : r.since_record ? ", first caused by " + itemRef(r.since_record, r.since_date, r.since_amount, r.since_reason)
          : " (no record listed there: see that month's card)");
    var head;
    if (r.status === "pass" && diff !== null && diff !== 0n) {
      head = label + " passes: " + fig(r.actual) + " against " + fig(r.expected) + " expected, a difference of "
        + fig(r.difference) + " that the check allows" + (items ? "; " + items + " listed for reference" : "");
    } else if (r.status === "pass") {
      head = label + " agrees" + (diff === null || r.expected === null ? "" : ": " + fig(r.expected) + " on both sides")
        + (items ? "; " + items + " listed for reference" : "");
    } else if (diff !== null && diff !== 0n) {
      head = label + " differs by " + fig(r.difference) + ": " + fig(r.actual) + " against "
        + fig(r.expected) + " expected" + (items ? "; " + items : "; no item listed this month");
    } else if (r.items) {
      head = label + (diff === null ? "" : " has no difference in total (" + fig("0") + "), but")
        + " lists " + items + " to look at";
    } else {
      head = label + " is " + (r.status === "fail" ? "failing" : "warning") + (r.detail ? ": " + moneyIn(r.detail).split(" | ")[0] : "");
    }
    return head + (cause ? "; " + cause : "") + (/[.!?]$/.test(cause || head) ? "" : ".");
  }

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
      var label = (section.checks && section.checks[r.check_id]) || r.check_id;
      var counts = (section.counts || []).indexOf(r.check_id) >= 0;
      card.appendChild(el("p", { class: "lead" }, reconSentence(r, label, counts)));
      var more = el("details", { class: "more" });
      more.appendChild(el("summary", null, "Detail"));
      if (r.expected !== null || r.actual !== null) {
        var f = function (v) { return counts ? number(v, 0) : money(v, CURRENCY, true); };
        more.appendChild(el("div", { class: "figures" },
          "expected " + f(r.expected) + " · actual " + f(r.actual) + " · difference " + f(r.difference)));
      }
      if (r.detail) {
        var parts = String(r.detail).split(" | ");
        var detail = el(parts.length > 1 ? "ul" : "p", { class: "detail" }, parts.length > 1 ? null : moneyIn(parts[0]));
        if (parts.length > 1) parts.forEach(function (part) { detail.appendChild(el("li", null, moneyIn(part))); });
        more.appendChild(detail);
      }
      if (r.items) {
        more.appendChild(el("p", { class: "detail" }, plural(r.items, "item") + " totalling " + money(r.items_total, CURRENCY, true)
          + "; the oldest " + itemRef(r.oldest_record, r.oldest_date, r.oldest_amount, r.oldest_reason)));
      }
      if (more.children.length > 1) card.appendChild(more);
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
    outs[2].textContent = noData(p, "runway_months") ? "no data" : display(kpiValue(p, "runway_months"), "number") + " months";
    if (cash === null || burns.some(function (b) { return b === null; })) {
      var gaps = emptyMonths(months.filter(function (m) { return periodInfo(m).period; }));
      outs[1].textContent = gaps.length ? namedGaps(gaps.sort()) : "not enough history";
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
    // a column of one month without journal lines is "no data"; a range (year to date) holding one names it
    var columnMonth = {}, gaps = [];
    section.columns.forEach(function (col) {
      if (col.window) {
        var from = info.fiscal_year_start || state.period, months = [];
        for (var q = from; q <= state.period; q = shiftPeriod(q, 1)) months.push(q);
        emptyMonths(months).forEach(function (q) { if (periodInfo(q).period && gaps.indexOf(q) < 0) gaps.push(q); });
        return;
      }
      var month = shiftPeriod(state.period, col.shift || 0);
      columnMonth[col.name] = month;
      if (periodInfo(month).period && !hasLedger(month) && gaps.indexOf(month) < 0) gaps.push(month);
    });
    gaps.sort();
    note.textContent = (info.is_open ? state.period + " is the open month: its column is month to date, through " + info.through + ". "
      : info.closed_version !== null && info.closed_version !== undefined
        ? "The statements show the ledger as it is now" + (info.restated_since_close ? ", restated since the close. " : " (the same figures as at the close). ")
        : "") + (gaps.length ? "No ledger lines in " + gaps.join(", ") + ": its figures show no data" + (section.columns.some(function (c) { return c.window; }) ? " (a year to date across it leaves it out)" : "") + "." : "");
    note.setAttribute("data-gaps", gaps.join(" "));
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
          var month = columnMonth[col.name];
          if (month && periodInfo(month).period && !hasLedger(month)) raw = null;  // unknown, not zero
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
