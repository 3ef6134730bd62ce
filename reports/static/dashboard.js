/* closeboard dashboard: draws the declared sections from the embedded data.
 *
 * Every string from a source reaches the page through textContent or a canvas, never as HTML.
 * Money arrives as decimal strings and is handled as BigInt hundredths: formatting, totals and
 * sorting are exact; only chart geometry uses floating point.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("cb-data").textContent);
  if (DATA.shared) DATA = withShared(DATA);
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

  // An archived version (reports/history.py) carries its own figures and meta inline and loads what it
  // shares with the other versions of its run (sections, datasets, explanations) from a file beside it.
  function withShared(own) {
    var common = window.CLOSEBOARD_SHARED;
    if (!common) {
      var note = document.createElement("p");
      note.className = "missing";
      note.textContent = "This archived page's data file (" + own.shared + ") is missing: keep the reports folder whole.";
      document.getElementById("main").prepend(note);
      throw new Error("missing " + own.shared);
    }
    var out = {};
    Object.keys(common).forEach(function (k) { out[k] = common[k]; });
    out.meta = own.meta;
    out.datasets = Object.assign({}, common.datasets, own.datasets);
    return out;
  }

  // ------------------------------------------------------------------ exact decimals

  // money, numbers and a check card's sentence: reports/static/format.js, inlined before this script
  var FORMAT = window.closeboardFormat(CURRENCY, SYMBOLS);
  var hundredths = FORMAT.hundredths, abs = FORMAT.abs, digits = FORMAT.digits, money = FORMAT.money, number = FORMAT.number;
  var moneyIn = FORMAT.moneyIn, plural = FORMAT.plural, itemRef = FORMAT.itemRef, reconSentence = FORMAT.reconSentence;

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
      drawTileBudget(section, tile, card, p, empty, fmt);
      if (!card.getAttribute("data-explain")) {  // click (or Enter / Space on focus) opens the explanation
        card.setAttribute("data-explain", "kpi");
        card.tabIndex = 0;
        card.setAttribute("role", "button");
        card.setAttribute("aria-haspopup", "dialog");
        card.setAttribute("aria-label", tile.label + ": explain this figure");
        var open = function () { openExplain({ kpi: tile.kpi, label: tile.label, period: state.period, format: tile.format }, card); };
        card.addEventListener("click", open);
        card.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } });
      }
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

  // "vs budget" on a tile whose KPI has a budget that month (sections.yaml budget_query, mart_budget):
  // the variance (actual - budget) coloured favourable or not; in the open month, month to date against
  // a whole month's budget, the budget only and no colour. No budget: nothing (never 0).
  var budgetIndex = {};
  function budgetRows(name) {
    if (!budgetIndex[name]) {
      budgetIndex[name] = {};
      records(name).forEach(function (r) { budgetIndex[name][r.period + "|" + (r.kpi !== undefined ? r.kpi : r.line)] = r; });
    }
    return budgetIndex[name];
  }

  function unsigned(text) { return text.replace(/^\((.*)\)$/, "$1"); }

  function drawTileBudget(section, tile, card, period, empty, fmt) {
    var node = card.querySelector(".tile-budget");
    if (!node) { node = el("div", { class: "tile-budget" }); card.querySelector(".tile-change").after(node); }
    var row = section.budget_query ? budgetRows(section.budget_query)[period + "|" + tile.kpi] : null;
    node.hidden = !row || empty;
    node.className = "tile-budget";
    node.removeAttribute("data-favourable");
    if (node.hidden) { node.textContent = ""; node.title = ""; return; }
    var budgetText = display(row.budget, tile.format, CURRENCY);
    if (row.variance === null) {
      node.textContent = "budget " + budgetText + " (whole month)";
      node.title = "month to date against the whole month's budget: no variance until the month ends";
      return;
    }
    var v = hundredths(row.variance);
    var over = v > 0n, word = v === 0n ? "on budget" : over ? "over budget" : "under budget";
    var size = fmt.money ? unsigned(money(row.variance, CURRENCY, fmt.places)) : unsigned(number(row.variance, 1)) + " pp";
    // the percent follows the tiles' rule for changes (kpi_rules.change): not on a budget near zero or of
    // the other sign than the actual (a planned loss of 4,200 against an actual one of 81,279 is no "1,835%")
    var actual = hundredths(kpiValue(period, tile)), base = hundredths(row.budget), rule = RULES.change || {};
    var meaningful = row.variance_pct !== null && actual !== null && base !== 0n && (actual === 0n || (actual < 0n) === (base < 0n)) &&
      abs(base) >= hundredths(rule.min_base || "0") && abs(base) * 100n >= abs(actual) * BigInt(rule.min_base_share_pct || 0);
    var pct = row.variance_pct === null ? "" : meaningful ? " (" + unsigned(number(row.variance_pct, 1, "%")) + ")" : " (n/m)";
    node.textContent = (v === 0n ? "■ " : over ? "▲ " : "▼ ") + (v === 0n ? "" : size + pct + " ") + word + " " + budgetText;
    node.className = "tile-budget " + (row.favourable ? "fav" : "unfav");
    node.setAttribute("data-favourable", row.favourable ? "true" : "false");
    node.setAttribute("data-variance", row.variance);
    node.title = "budget " + (fmt.money ? money(row.budget, CURRENCY, true) : row.budget) + ", variance " +
      (fmt.money ? money(row.variance, CURRENCY, true) : row.variance) + " (actual - budget): " + (row.favourable ? "favourable" : "unfavourable");
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
    t.table = table;
    t.more = el("p", { class: "note table-more", hidden: "" });
    body.appendChild(t.more);
    tables[section.id] = t;
    return t;
  }

  // A table embeds the first rows of each period in its sort order (sections.yaml `rows`), and
  // DATA.tables[id].summary the count of every row and the sums of its total columns per period, facet
  // and currency (from SQL): offline, the totals are those of every row and the page says how many
  // rows are left out; served, every row of the period comes from the server (GET /api/table).
  var fullRows = {};  // section id -> period -> records | "loading" | {error}

  function tableInfo(section) { return (DATA.tables || {})[section.id] || null; }

  function asRecords(body) {
    return body.rows.map(function (row) { var r = {}; body.columns.forEach(function (c, i) { r[c] = row[i]; }); return r; });
  }

  // the summary rows of the selected period (and facet)
  function summaryOf(section, facet) {
    var info = tableInfo(section);
    if (!info) return null;
    return asRecords(info.summary).filter(function (r) {
      if (section.period_column && r[section.period_column] !== state.period) return false;
      return !(facet && section.facet && r[section.facet.column] !== facet);
    });
  }

  function rowCount(summary) { return summary.reduce(function (n, r) { return n + Number(r._rows); }, 0); }

  function fetchTable(t, key) {
    var section = t.section, cache = fullRows[section.id] = fullRows[section.id] || {};
    cache[key] = "loading";
    var q = "section=" + encodeURIComponent(section.id) + (section.period_column ? "&period=" + encodeURIComponent(key) : "");
    fetch(SERVED.table_url + "?" + q, { headers: { "Accept": "application/json", "X-Closeboard-Token": SERVED.token }, cache: "no-store" })
      .then(function (r) { return r.json().then(function (body) { if (!r.ok) throw new Error(body.error || ("HTTP " + r.status)); return body; }); })
      .then(function (body) { cache[key] = asRecords(body); })
      .catch(function (err) { cache[key] = { error: err.message }; })
      .then(function () { if (!section.period_column || key === state.period) drawTable(t); });
  }

  // every row of the selected period from the server when the embedded ones are not all of them
  // (served mode), else null; `t.fetchNote` says what happens meanwhile
  function serverRows(t, embedded) {
    var section = t.section, summary = summaryOf(section, "");
    t.fetchNote = "";
    // an archived version keeps the rows it was archived with (the server's are today's)
    if (!SERVED || !SERVED.table_url || META.archived || !summary || rowCount(summary) <= embedded) return null;
    var key = section.period_column ? state.period : "*";
    var got = (fullRows[section.id] || {})[key];
    if (got === undefined) { fetchTable(t, key); got = "loading"; }
    if (Array.isArray(got)) return got;
    t.fetchNote = got === "loading" ? "Loading every row from the server…" : "Could not fetch every row (" + got.error + "): the first rows are shown.";
    return null;
  }

  function drawTable(t) {
    var section = t.section;
    var all = records(section.rows_query || section.query);
    if (section.period_column) all = all.filter(function (r) { return r[section.period_column] === state.period; });
    var full = serverRows(t, all.length);
    if (full) all = full;
    if (t.facetSelect) {
      var values = [];
      all.concat(!full && summaryOf(section, "") || []).forEach(function (r) { var v = r[section.facet.column]; if (values.indexOf(v) < 0) values.push(v); });
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
    // file and no filter is set, those of every row (the summary computed in SQL)
    var facetRows = t.facet ? all.filter(function (r) { return r[section.facet.column] === t.facet; }) : all;
    var summary = full ? null : summaryOf(section, t.facet);
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
            var sum = 0n, moneyCol = col.format === "money" || col.format === "money_cents";
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
    var info = tableInfo(section) || {};
    t.count.textContent = !partial ? rows.length + " of " + facetRows.length + " rows"
      : needle ? rows.length + " of the " + facetRows.length + " rows shown match (" + inAll.toLocaleString("en-US") + " in all)"
      : facetRows.length + " of " + inAll.toLocaleString("en-US") + " rows shown" + (info.order ? " (" + info.order + ")" : "");
    t.count.setAttribute("data-rows", String(rows.length));
    t.count.setAttribute("data-all-rows", String(inAll));
    t.table.setAttribute("data-complete", partial ? "false" : "true");
    t.table.setAttribute("data-from", full ? "server" : "file");
    var more = inAll - facetRows.length;
    var exported = section.export ? "`closeboard export --period " + state.period + (META.archived ? " --version " + META.archived.version : "") +
      " --xlsx FILE` (" + section.export + ")" : "";
    t.more.textContent = t.fetchNote || (!partial ? "" : more.toLocaleString("en-US") + " more row" + (more === 1 ? " is" : "s are") +
      (META.archived ? " left out of this archived page" + (exported ? ": " + exported : "")
        : " left out of this file: open the page with `closeboard serve` to see every row" + (exported ? ", or " + exported : "")) + ".");
    t.more.hidden = !t.more.textContent;
    t.more.setAttribute("data-more", String(partial ? more : 0));
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
      var label = (section.checks && section.checks[r.check_id]) || r.check_id;
      var card = FORMAT.checkCard(r, label, (section.counts || []).indexOf(r.check_id) >= 0);  // as a view's check card
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
        // recon_items.sql lists the 200 largest of each check; the file embeds the first `rows` of them
        var listed = SERVED && SERVED.table_url ? 200 : Math.min(200, (tableInfo({ id: section.items_section }) || {}).limit || 200);
        if (r.items > listed) card.appendChild(el("div", { class: "note" }, "the " + listed + " largest are listed" +
          (listed < 200 ? " in this file (`closeboard serve` lists 200)" : "")));
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
        var row = { line_id: l.line_id, label: l.label, kind: l.kind, depth: l.depth, order: l.line_order, rollup: l.rollup };
        section.columns.forEach(function (c) { row[c.name] = r[c.name]; });
        var b = section.budget_query ? budgetRows(section.budget_query)[r.period + "|" + r.line] : null;
        if (b) { row.budget = b.budget; row.variance = b.variance; row.variance_pct = b.variance_pct; row.favourable = b.favourable; }
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
        if (spec.budget) (section.budget_columns || []).forEach(function (col) {
          tr.appendChild(el("th", { scope: "col", class: "num budget-col", "data-budget": col.name }, col.label));
        });
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
      // the budget columns only for a month with a budget (never a column of zeros)
      var budgeted = !!b.spec.budget && rows.some(function (r) { return r.budget !== undefined; });
      b.table.querySelectorAll("thead th.budget-col").forEach(function (th) { th.hidden = !budgeted; });
      b.table.classList.toggle("with-budget", budgeted);
      var stParts = (EXPLAIN.statement || {}).parts || {};
      var tbody = b.table.querySelector("tbody");
      var frag = document.createDocumentFragment();
      rows.forEach(function (r) {
        var tr = el("tr", { class: "kind-" + r.kind, "data-line": r.line_id });
        // income-statement lines, and balance-sheet and cash-flow lines made of balances (not headings or checks)
        var explainable = b.spec.id === "income_statement" || !!stParts[b.spec.id + "|" + st.rollup + "|" + r.line_id];
        var th = el("th", { scope: "row", class: "line depth-" + Math.min(r.depth || 0, 4) }, explainable ? null : r.label);
        if (explainable) {  // a click on the line (or Enter on its button) opens the journal lines behind it
          var button = el("button", { type: "button", class: "line-explain", "aria-haspopup": "dialog", title: "explain this line" }, r.label);
          var request = { statement: b.spec.id, rollup: st.rollup, line_id: r.line_id, label: r.label, period: state.period, value: r.amount };
          button.addEventListener("click", function (e) { e.stopPropagation(); openExplain(request, button); });
          tr.addEventListener("click", function () { openExplain(request, button); });
          tr.classList.add("explainable");
          th.appendChild(button);
        }
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
        if (budgeted) (section.budget_columns || []).forEach(function (col) {
          var value = r[col.name];
          var known = value !== undefined && value !== null;
          var text = r.kind === "heading" || !known ? "" : col.format === "percent" ? number(value, 2, "%") : money(value, CURRENCY, true);
          var cls = "num budget-col" + (col.name !== "budget" && known && r.favourable !== null && r.favourable !== undefined ? (r.favourable ? " fav" : " unfav") : "");
          var td = el("td", { class: cls, "data-budget": col.name }, text);
          td.setAttribute("data-raw", known ? String(value) : "");
          if (col.name === "variance" && known) td.title = r.favourable ? "favourable" : "unfavourable";
          if (col.name === "variance" && !known && r.budget !== undefined && r.budget !== null) td.title = "month to date: no variance until the month ends";
          tr.appendChild(td);
        });
        frag.appendChild(tr);
      });
      tbody.textContent = "";
      tbody.appendChild(frag);
      if (!rows.length) {
        var empty = el("tr"), cell = el("td", { colspan: String(section.columns.length + 1 + (budgeted ? (section.budget_columns || []).length : 0)), class: "missing" }, "No statement for " + state.period + ".");
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

  // ------------------------------------------------------------------ click to explain

  // The explanation `closeboard explain` gives, for a tile (a KPI) or an income-statement line: the
  // definition, the sources and their MCP calls, and the rows behind it largest first, whose sum ties
  // to the figure. Offline, from the page's embedded explanations (DATA.explain: the largest rows per
  // figure, with the count and total of all of them); served, every row from the server.
  var EXPLAIN = DATA.explain || {};
  var COLUMN_LABELS = { posted_date: "Date", entry_id: "Entry", line_no: "Line", account_id: "Account", description: "Description",
    document_id: "Document", opportunity_id: "Opportunity", customer_name: "Customer", stage: "Stage", close_date: "Close date", amount: "Amount" };
  var panel = null, lastOpener = null;

  function explainPanel() {
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

  function closeExplain() {
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    document.documentElement.removeAttribute("data-explain");
    if (lastOpener) lastOpener.focus();
  }

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
    var fmt = formatOf(req.format || "money_cents") || {};
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
    if (depth) box.appendChild(el("h3", null, (node.name || "") + " " + (node.period || "") + ": " + (node.value === null ? "no data" : formatAmount(node.value, depth ? { format: "money_cents" } : req))));
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
    lastOpener = opener || null;
    var p = explainPanel();
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
  window.closeboard = { state: state, display: display, explain: openExplain, ready: true };
  document.documentElement.setAttribute("data-ready", "1");
})();
