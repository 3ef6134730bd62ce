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
  // tiles, charts, tables, statements and the explanation panel: reports/static/components.js, the one
  // implementation the views draw with too, inlined after format.js
  var C = window.closeboardComponents(FORMAT, FORMATS, CURRENCY);
  var formatOf = C.formatOf, display = C.display, el = C.el, fromHundredths = C.fromHundredths, shiftPeriod = C.shiftPeriod;

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

  function windowEnding(period, n) {
    var i = PERIODS.indexOf(period);
    return PERIODS.slice(Math.max(0, i - n + 1), i + 1);
  }

  function periodInfo(period) {
    for (var i = 0; i < META.periods.length; i++) if (META.periods[i].period === period) return META.periods[i];
    return {};
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
      card.classList.toggle("nodata", empty);
      var shown = {
        value: value,
        text: empty ? "no data" : display(value, tile.format, CURRENCY),
        title: empty ? "no ledger lines in " + p : value === null ? "not defined for " + p : "",
        // what the figure covers: month to date in the open month; today's figure for a point-in-time KPI
        basis: pointInTime(tile.kpi) ? (info.is_open ? "" : "today's figure, not at " + (info.period_end || p))
          : info.is_open && !empty ? "month to date, through " + info.through : "",
        changes: [["mom", "MoM"], ["yoy", "YoY"]].map(function (spec) {
          var base = empty ? { none: spec[1] + " —", title: p + ": no data" } : comparisonBase(section, tile, p, spec[0]);
          var ch = base.none === undefined ? change(fmt.change, value, base.value, tile.better) : null;
          return { name: spec[0], cls: ch && ch.cls, text: ch ? ch.text + " " + spec[1] : base.none !== undefined ? base.none : spec[1] + " —",
                   title: base.title + (ch && ch.title ? "; " + ch.title : "") };
        }),
        budget: tileBudget(section, tile, p, empty, fmt),
      };
      if (fmt.money) {  // the tile rounds to the unit; the exact figure on hover and focus
        shown.exact = value === null ? "" : money(value, CURRENCY, true);
        if (value !== null) shown.title = money(value, CURRENCY, true);
      }
      C.drawTile(card, shown);
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
      if (pointInTime(tile.kpi)) { card.querySelector(".spark").hidden = true; return; }  // no history to draw
      var periods = windowEnding(p, section.spark_periods || 13);
      C.spark(section.id + ":" + tile.kpi, card.querySelector(".spark canvas"), periods,
        periods.map(function (q) { var v = kpiValue(q, tile); return v === null ? null : Number(v); }));
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

  function tileBudget(section, tile, period, empty, fmt) {
    var row = section.budget_query ? budgetRows(section.budget_query)[period + "|" + tile.kpi] : null;
    if (!row || empty) return null;
    var budgetText = display(row.budget, tile.format, CURRENCY);
    if (row.variance === null) {
      return { text: "budget " + budgetText + " (whole month)", title: "month to date against the whole month's budget: no variance until the month ends" };
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
    return {
      text: (v === 0n ? "■ " : over ? "▲ " : "▼ ") + (v === 0n ? "" : size + pct + " ") + word + " " + budgetText,
      cls: row.favourable ? "fav" : "unfav",
      attrs: { "data-favourable": row.favourable ? "true" : "false", "data-variance": row.variance },
      title: "budget " + (fmt.money ? money(row.budget, CURRENCY, true) : row.budget) + ", variance " +
        (fmt.money ? money(row.variance, CURRENCY, true) : row.variance) + " (actual - budget): " + (row.favourable ? "favourable" : "unfavourable"),
    };
  }

  // ------------------------------------------------------------------ charts

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

  // a money chart's tooltips to the cent, its axis in whole units
  function chartFormats(format) {
    return { format: format === "money" ? "money_cents" : format, tick: format };
  }

  function drawLineChart(section) {
    var body = chartShell(section);
    var periods = windowEnding(state.period, section.window || 13);
    var datasets = section.series.map(function (s) {
      return {
        label: s.label, color: s.color, raw: periods.map(function (p) { return kpiValue(p, s); }),
        pointRadius: periods.map(function (p) { return p === state.period ? 5 : 2; }),
      };
    });
    var labels = periods.map(function (q) { return periodInfo(q).is_open ? q + " (month to date)" : q; });
    var f = chartFormats(section.format);
    C.chart(section.id, body.querySelector("canvas"), { type: "line", fill: !!section.fill, labels: labels, datasets: datasets, format: f.format, tick: f.tick });
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
      return { label: v.label, color: v.color, raw: rows.map(function (r) { return r[v.column]; }) };
    });
    var f = chartFormats(section.format);
    C.chart(section.id, body.querySelector("canvas"), { type: "bar", labels: labels, datasets: datasets, format: f.format, tick: f.tick });
    var sums = section.values.map(function (v) {
      var t = 0n;
      rows.forEach(function (r) { var x = hundredths(r[v.column]); if (x !== null) t += x; });
      return fromHundredths(t);
    });
    var totalNode = body.querySelector(".chart-total");
    totalNode.textContent = (section.period_column ? state.period + ": " : "") + section.values.map(function (v, i) {
      return v.label + " total " + display(sums[i], section.format, CURRENCY);
    }).join(" · ");
    totalNode.setAttribute("data-total", sums.join(" "));
  }

  // ------------------------------------------------------------------ tables

  // A table embeds the first rows of each period in its sort order (sections.yaml `rows`), and
  // DATA.tables[id].summary the count of every row and the sums of its total columns per period, facet
  // and currency (from SQL): offline, the totals are those of every row and the page says how many
  // rows are left out; served, every row of the period comes from the server (GET /api/table).
  // Drawn by the shared table component (components.js buildTable / drawTable).
  var tables = {};
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
      .then(function () { if (!section.period_column || key === state.period) C.drawTable(t); });
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

  function buildTable(section) {
    var t = C.buildTable(sectionNode(section.id).querySelector(".body"), section, {
      rows: function () {
        var all = records(section.rows_query || section.query);
        return section.period_column ? all.filter(function (r) { return r[section.period_column] === state.period; }) : all;
      },
      server: serverRows,
      summary: function (facet) { return summaryOf(section, facet); },
      order: (tableInfo(section) || {}).order,
      more: function (tt, more) {
        var exported = section.export ? "`closeboard export --period " + state.period + (META.archived ? " --version " + META.archived.version : "") +
          " --xlsx FILE` (" + section.export + ")" : "";
        return more.toLocaleString("en-US") + " more row" + (more === 1 ? " is" : "s are") +
          (META.archived ? " left out of this archived page" + (exported ? ": " + exported : "")
            : " left out of this file: open the page with `closeboard serve` to see every row" + (exported ? ", or " + exported : "")) + ".";
      },
    });
    tables[section.id] = t;
    return t;
  }

  function drawTable(t) { C.drawTable(t); }

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
      // each line's cells, drawn by the shared statement component (components.js statementBody)
      C.statementBody(b.table.querySelector("tbody"), rows.map(function (r) {
        // income-statement lines, and balance-sheet and cash-flow lines made of balances (not headings or checks)
        var explainable = b.spec.id === "income_statement" || !!stParts[b.spec.id + "|" + st.rollup + "|" + r.line_id];
        var request = { statement: b.spec.id, rollup: st.rollup, line_id: r.line_id, label: r.label, period: state.period, value: r.amount };
        var cells = section.columns.map(function (col) {
          var raw = r[col.name];
          var month = columnMonth[col.name];
          if (month && periodInfo(month).period && !hasLedger(month)) raw = null;  // unknown, not zero
          var text = r.kind === "heading" ? "" : raw === null || raw === undefined ? "no data" : money(raw, CURRENCY, true);
          return { text: text, raw: raw, cls: raw === null && r.kind !== "heading" ? " nodata" : "", attrs: { "data-column": col.name } };
        });
        if (budgeted) (section.budget_columns || []).forEach(function (col) {
          var value = r[col.name];
          var known = value !== undefined && value !== null;
          cells.push({
            text: r.kind === "heading" || !known ? "" : col.format === "percent" ? number(value, 2, "%") : money(value, CURRENCY, true),
            raw: known ? value : null, attrs: { "data-budget": col.name },
            cls: " budget-col" + (col.name !== "budget" && known && r.favourable !== null && r.favourable !== undefined ? (r.favourable ? " fav" : " unfav") : ""),
            title: col.name !== "variance" ? "" : known ? (r.favourable ? "favourable" : "unfavourable")
              : r.budget !== undefined && r.budget !== null ? "month to date: no variance until the month ends" : "",
          });
        });
        // a click on the line (or Enter on its button) opens the journal lines behind it
        return { line_id: r.line_id, label: r.label, kind: r.kind, depth: r.depth, cells: cells,
                 explain: explainable ? function (button) { openExplain(request, button); } : null };
      }), section.columns.length + (budgeted ? (section.budget_columns || []).length : 0), state.period);
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

  // The explanation `closeboard explain` gives, for a tile (a KPI) or a statement line: components.js
  // explainer, from the page's embedded explanations (DATA.explain) or, served, from the server.
  var EXPLAIN = DATA.explain || {};
  var openExplain = C.explainer(EXPLAIN, { periodInfo: periodInfo, kpiValue: kpiValue, served: SERVED }).open;

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
