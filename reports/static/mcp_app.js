/* closeboard's dashboard as an MCP App view (SEP-1865, MCP Apps 2026-01-26).
 *
 * The view holds no figures. It talks JSON-RPC 2.0 to its host over postMessage: `ui/initialize`
 * (answered with the host's capabilities and context), then `ui/notifications/initialized`; the
 * host may send `ui/notifications/tool-input` / `tool-result` for the get_kpis call that opened it.
 * Every other figure comes from `tools/call` requests the host proxies to closeboard's MCP server:
 * list_periods for the selector, get_kpis, get_checks and get_statement for the shown month.
 * Strings are shown with textContent only: nothing from a tool is ever parsed as markup.
 */
(function () {
  "use strict";

  var LAYOUT = JSON.parse(document.getElementById("cb-app-layout").textContent);
  var root = document.documentElement;
  var $ = function (id) { return document.getElementById(id); };

  var state = {
    periods: [],          // list_periods' answer
    currency: null,
    period: null,         // the month shown (or being loaded)
    asked: null,          // the month the host's tool call asked for (tool-input)
    seq: 0,               // drops answers for a month no longer wanted
    canCallTools: true,
    statement: LAYOUT.statements[0].id,
    rollup: LAYOUT.rollups[0].id
  };

  // ------------------------------------------------------------------------------------------
  // JSON-RPC over postMessage

  var nextId = 1;
  var pending = {};

  function post(message) { window.parent.postMessage(message, "*"); }

  function request(method, params) {
    var id = nextId++;
    return new Promise(function (resolve, reject) {
      pending[id] = { resolve: resolve, reject: reject };
      post({ jsonrpc: "2.0", id: id, method: method, params: params });
    });
  }

  function notify(method, params) { post({ jsonrpc: "2.0", method: method, params: params || {} }); }

  function answer(id, result) { post({ jsonrpc: "2.0", id: id, result: result }); }

  function refuse(id, code, message) { post({ jsonrpc: "2.0", id: id, error: { code: code, message: message } }); }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;  // only the host speaks to the view
    var msg = event.data;
    if (!msg || typeof msg !== "object" || msg.jsonrpc !== "2.0") return;
    if (typeof msg.method !== "string") {  // a response to one of our requests
      var waiting = pending[msg.id];
      if (!waiting) return;
      delete pending[msg.id];
      if (msg.error) waiting.reject(new Error(String(msg.error.message || "the host refused the request")));
      else waiting.resolve(msg.result || {});
      return;
    }
    if (msg.id !== undefined && msg.id !== null) {  // a request from the host
      if (msg.method === "ping") answer(msg.id, {});
      else if (msg.method === "ui/resource-teardown") { state.seq++; answer(msg.id, {}); }
      else refuse(msg.id, -32601, "Method not found: " + msg.method);
      return;
    }
    var params = msg.params || {};
    if (msg.method === "ui/notifications/tool-input") onToolInput(params);
    else if (msg.method === "ui/notifications/tool-result") onToolResult(params);
    else if (msg.method === "ui/notifications/tool-cancelled") say("The host cancelled the call" + (params.reason ? ": " + params.reason : "."), false);
    else if (msg.method === "ui/notifications/host-context-changed") applyContext(params);
  });

  // a tool's answer: closeboard's tools answer JSON text; an error result is thrown with its text
  function parseResult(result) {
    var text = (result.content || []).filter(function (c) { return c && c.type === "text"; })
      .map(function (c) { return c.text; }).join("\n");
    if (result.isError) throw new Error(text || "the tool failed");
    if (result.structuredContent && typeof result.structuredContent === "object") return result.structuredContent;
    return JSON.parse(text);
  }

  function callTool(name, args) {
    if (!state.canCallTools) return Promise.reject(new Error("this host does not let the view call closeboard's tools"));
    return request("tools/call", { name: name, arguments: args }).then(parseResult);
  }

  // ------------------------------------------------------------------------------------------
  // host context: theme, the standard style variables, container dimensions

  function applyContext(ctx) {
    if (!ctx || typeof ctx !== "object") return;
    if (ctx.theme === "light" || ctx.theme === "dark") {
      root.setAttribute("data-theme", ctx.theme);
      root.style.colorScheme = ctx.theme;
    }
    var vars = ctx.styles && ctx.styles.variables;
    if (vars && typeof vars === "object") {
      Object.keys(vars).forEach(function (key) {
        if (/^--[a-z0-9-]+$/.test(key) && typeof vars[key] === "string") root.style.setProperty(key, vars[key]);
      });
    }
    var dims = ctx.containerDimensions;
    if (dims && typeof dims === "object") {
      if (typeof dims.height === "number") root.style.height = "100vh";
      else if (typeof dims.maxHeight === "number") root.style.maxHeight = dims.maxHeight + "px";
      if (typeof dims.width === "number") root.style.width = "100vw";
      else if (typeof dims.maxWidth === "number") root.style.maxWidth = dims.maxWidth + "px";
    }
  }

  var lastSize = "";
  function reportSize() {
    var width = Math.ceil(root.scrollWidth), height = Math.ceil(root.scrollHeight);
    var key = width + "x" + height;
    if (key === lastSize) return;
    lastSize = key;
    notify("ui/notifications/size-changed", { width: width, height: height });
  }

  function watchSize() {
    var queued = false;
    var later = function () {
      if (queued) return;
      queued = true;
      window.requestAnimationFrame(function () { queued = false; reportSize(); });
    };
    if (typeof ResizeObserver === "function") new ResizeObserver(later).observe(document.body);
    reportSize();
  }

  // ------------------------------------------------------------------------------------------
  // formatting: exact decimal text, never a float

  function group(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }

  function exact(value) {  // "-1234567.5" -> {neg: true, text: "1,234,567.5"}
    var text = String(value).trim();
    var neg = text.charAt(0) === "-";
    if (neg || text.charAt(0) === "+") text = text.slice(1);
    var parts = text.split(".");
    var whole = /^\d+$/.test(parts[0]) ? group(parts[0]) : parts[0];
    return { neg: neg && /[1-9]/.test(text), text: parts.length > 1 ? whole + "." + parts[1] : whole };
  }

  function symbol() {
    var cur = state.currency || "";
    return Object.prototype.hasOwnProperty.call(LAYOUT.symbols, cur) ? LAYOUT.symbols[cur] : (cur ? cur + " " : "");
  }

  function show(value, format) {
    if (value === null || value === undefined) return "no data";
    var spec = LAYOUT.formats[format] || {};
    var e = exact(value);
    var text = (spec.money ? symbol() : "") + e.text + (spec.suffix || "");
    return e.neg ? "(" + text + ")" : text;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function say(text, isError) {
    var box = $("app-message");
    box.textContent = text || "";
    box.className = "app-message" + (isError ? " error" : "");
    box.hidden = !text;
  }

  function humanize(name) { return name.replace(/_/g, " ").replace(/^./, function (c) { return c.toUpperCase(); }); }

  // ------------------------------------------------------------------------------------------
  // drawing

  var STATE_CHIPS = { "closed": "closed", "restated since close": "restated", "open": "", "draft": "" };

  function drawHead(ans) {
    $("focus-period").textContent = ans.period;
    var stateText = ans.state === "open" ? "month to date" : ans.state;
    var chip = $("period-status");
    chip.textContent = stateText;
    chip.className = "chip " + (STATE_CHIPS[ans.state] || "");
    var version = $("version-status");
    if (ans.version !== null && ans.version !== undefined) {
      var signed = ans.closed_by ? " · signed off by " + ans.closed_by + (ans.closed_at ? " " + String(ans.closed_at).slice(0, 10) : "") : "";
      version.textContent = "v" + ans.version + " " + (ans.status || "") + signed;
      version.hidden = false;
    } else {
      version.hidden = true;
    }
    if (ans.currency) {
      state.currency = ans.currency;
      $("currency-line").textContent = "closeboard · reporting currency " + ans.currency + " · reconciled figures, read through its MCP tools";
    }
    var sources = $("sources");
    clear(sources);
    var asOf = (ans.data_as_of && ans.data_as_of.sources) || {};
    Object.keys(asOf).sort().forEach(function (name) {
      var li = el("li");
      li.setAttribute("data-source", name);
      li.appendChild(el("strong", null, name));
      li.appendChild(document.createTextNode(" "));
      var t = el("time", null, asOf[name].as_of || "unknown");
      if (asOf[name].as_of) t.setAttribute("datetime", asOf[name].as_of);
      li.appendChild(t);
      sources.appendChild(li);
    });
    var run = ans.data_as_of && ans.data_as_of.run_id;
    $("foot").textContent = "closeboard · MCP App · figures from " + (ans.figures_from || "closeboard") +
      (run ? " · run " + run : "");
  }

  function tile(kpi, label, format, value, note, unit) {
    var box = el("div", "tile" + (value === null || value === undefined ? " nodata" : ""));
    box.setAttribute("data-kpi", kpi);
    box.setAttribute("data-value", value === null || value === undefined ? "" : String(value));
    box.appendChild(el("div", "tile-label", label));
    box.appendChild(el("div", "tile-value", show(value, format)));
    if (unit) box.appendChild(el("div", "tile-unit", unit));
    if (note) box.appendChild(el("div", "tile-note", note));
    return box;
  }

  function drawKpis(ans) {
    var kpis = ans.kpis || {};
    var units = ans.units || {};
    var tiles = $("tiles"), others = $("other-kpis");
    clear(tiles);
    clear(others);
    var shown = {};
    LAYOUT.tiles.forEach(function (t) {
      if (!Object.prototype.hasOwnProperty.call(kpis, t.kpi)) return;  // a source not configured
      shown[t.kpi] = true;
      tiles.appendChild(tile(t.kpi, t.label, t.format || "money", kpis[t.kpi], t.note, null));
    });
    Object.keys(kpis).sort().forEach(function (name) {  // every other figure get_kpis gives
      if (shown[name]) return;
      var unit = units[name];
      var format = unit === "percent" ? "percent" : (unit ? "number" : "money");
      others.appendChild(tile(name, humanize(name), format, kpis[name], null, unit && unit !== "percent" ? unit : null));
    });
  }

  function drawChecks(ans) {
    var list = $("checks");
    clear(list);
    var counts = {};
    (ans.checks || []).forEach(function (c) {
      counts[c.status] = (counts[c.status] || 0) + 1;
      var card = el("article", "check");
      card.setAttribute("data-check", c.check_id);
      card.setAttribute("data-status", c.status);
      var head = el("header");
      head.appendChild(el("strong", null, c.title || c.check_id));
      head.appendChild(el("span", "badge " + String(c.status).replace(/[^a-z_]/g, ""), String(c.status).replace(/_/g, " ")));
      card.appendChild(head);
      if (c.expected !== null || c.actual !== null) {
        card.appendChild(el("div", "figures", "expected " + (c.expected === null ? "—" : c.expected) +
          " · actual " + (c.actual === null ? "—" : c.actual) +
          " · difference " + (c.difference === null ? "—" : c.difference)));
      }
      if (c.detail) card.appendChild(el("p", "detail", c.detail));
      if (c.items) card.appendChild(el("div", "figures", c.items + " item(s): get_check_items lists them"));
      list.appendChild(card);
    });
    var summary = $("recon-summary");
    var total = (ans.checks || []).length;
    var failing = counts.fail || 0, warning = counts.warn || 0;
    summary.textContent = "reconciliation: " + (failing ? failing + " failing" : warning ? warning + " warning" :
      (counts.pass || 0) + " of " + total + " pass");
    summary.className = "chip " + (failing ? "fail" : warning ? "warn" : "pass");
  }

  function drawStatement(ans) {
    var table = $("statement");
    clear(table);
    var head = el("thead"), row = el("tr");
    row.appendChild(el("th", "line", "Line"));
    LAYOUT.columns.forEach(function (c) { row.appendChild(el("th", "num", c.label)); });
    head.appendChild(row);
    table.appendChild(head);
    var body = el("tbody");
    (ans.lines || []).forEach(function (line) {
      var tr = el("tr", "kind-" + String(line.kind || "account").replace(/[^a-z_]/g, ""));
      tr.setAttribute("data-line", line.line_id === undefined || line.line_id === null ? "" : String(line.line_id));
      var depth = Math.max(0, Math.min(4, parseInt(line.depth, 10) || 0));
      tr.appendChild(el("th", "line depth-" + depth, line.label !== undefined ? line.label : (line.account_name || line.account_id)));
      LAYOUT.columns.forEach(function (c) {
        var has = Object.prototype.hasOwnProperty.call(line, c.name);
        var v = has ? line[c.name] : null;
        var td = el("td", "num" + (v === null ? " nodata" : ""), has ? show(v, "money_cents") : "—");
        td.setAttribute("data-column", c.name);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  function drawPeriods() {
    var select = $("period-select");
    clear(select);
    state.periods.slice().reverse().forEach(function (p) {
      var label = p.period + " — " + (p.state === "open" ? "month to date" : p.state);
      var option = el("option", null, label);
      option.value = p.period;
      select.appendChild(option);
    });
    select.disabled = !state.periods.length;
    if (state.period) select.value = state.period;
  }

  // ------------------------------------------------------------------------------------------
  // loading a month through the tools

  function failed(err) { say(String(err && err.message ? err.message : err), true); }

  function loadStatement(period, seq) {
    return callTool("get_statement", { kind: state.statement, period: period, rollup: state.rollup }).then(function (ans) {
      if (seq === state.seq) drawStatement(ans);
    });
  }

  // show `period`; `kpis`: the get_kpis answer the host already has (its tool-result), else asked for
  function showPeriod(period, kpis) {
    var seq = ++state.seq;
    state.period = period;
    $("period-select").value = period;
    root.removeAttribute("data-shown");
    say("Loading " + period + "…", false);
    var first = kpis ? Promise.resolve(kpis) : callTool("get_kpis", { period: period });
    var drawn = first.then(function (ans) {
      if (seq !== state.seq) return;
      drawHead(ans);
      drawKpis(ans);
    });
    var checks = callTool("get_checks", { period: period }).then(function (ans) {
      if (seq === state.seq) drawChecks(ans);
    });
    return Promise.all([drawn, checks, loadStatement(period, seq)]).then(function () {
      if (seq !== state.seq) return;
      say("", false);
      root.setAttribute("data-shown", period);
    }, function (err) { if (seq === state.seq) failed(err); });
  }

  function defaultPeriod() {
    var ended = state.periods.filter(function (p) { return !p.month_to_date; });
    var pick = ended.length ? ended[ended.length - 1] : state.periods[state.periods.length - 1];
    return pick ? pick.period : null;
  }

  function loadPeriods() {
    return callTool("list_periods", {}).then(function (ans) {
      state.periods = ans.periods || [];
      if (ans.currency) state.currency = ans.currency;
      drawPeriods();
      if (!state.period && !state.asked) {
        var period = defaultPeriod();
        if (period) return showPeriod(period);
        say("No reported periods yet: run closeboard refresh.", false);
      }
    });
  }

  function onToolInput(params) {
    var args = params.arguments || {};
    if (typeof args.period === "string") {
      state.asked = args.period;
      say("Loading " + args.period + "…", false);
    }
  }

  function onToolResult(result) {
    var ans;
    try { ans = parseResult(result); } catch (err) { failed(err); return; }
    if (ans && typeof ans.period === "string" && ans.kpis) {  // get_kpis: draw it as it came
      state.asked = ans.period;
      showPeriod(ans.period, ans);
    } else if (ans && Array.isArray(ans.periods)) {  // list_periods
      state.periods = ans.periods;
      drawPeriods();
    }
  }

  // ------------------------------------------------------------------------------------------
  // controls and start

  function fill(select, items, current) {
    items.forEach(function (item) {
      var option = el("option", null, item.label);
      option.value = item.id;
      select.appendChild(option);
    });
    select.value = current;
  }

  fill($("statement-select"), LAYOUT.statements, state.statement);
  fill($("rollup-select"), LAYOUT.rollups, state.rollup);
  $("period-select").addEventListener("change", function (e) { showPeriod(e.target.value).catch(failed); });
  $("statement-select").addEventListener("change", function (e) {
    state.statement = e.target.value;
    if (state.period) loadStatement(state.period, state.seq).catch(failed);
  });
  $("rollup-select").addEventListener("change", function (e) {
    state.rollup = e.target.value;
    if (state.period) loadStatement(state.period, state.seq).catch(failed);
  });

  request("ui/initialize", {
    appInfo: LAYOUT.app,
    appCapabilities: { availableDisplayModes: ["inline"] },
    protocolVersion: LAYOUT.protocol_version
  }).then(function (init) {
    applyContext(init.hostContext || {});
    state.canCallTools = !!(init.hostCapabilities && init.hostCapabilities.serverTools);
    notify("ui/notifications/initialized", {});
    root.setAttribute("data-initialized", "1");
    watchSize();
    if (!state.canCallTools) {
      say("This host does not proxy tool calls: only the figures of the call that opened this view are shown.", false);
      return;
    }
    say("Loading…", false);
    return loadPeriods();
  }).catch(failed);
}());
