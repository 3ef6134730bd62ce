/* closeboard's exact number formatting and a reconciliation check's sentence and card: the one copy that the
 * dashboard (dashboard.js) and the views (view.js) both use. Each page inlines this file before its
 * own script (an archived page loads it from history/_assets) and calls
 * closeboardFormat(currency, symbols): currency is the reporting currency, symbols the prefixes per
 * currency (reports/formatting.py). Money arrives as decimal strings and is handled as BigInt
 * hundredths, so formatting is exact to the cent.
 */
window.closeboardFormat = function (CURRENCY, SYMBOLS) {
  "use strict";
  SYMBOLS = SYMBOLS || {};

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

  function node(tag, attrs, text) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) n.textContent = text;
    return n;
  }

  // One reconciliation check's card, the one copy the dashboard's Reconciliation section and a view's
  // ```check component draw: its label and verdict, the first sentence, then on demand the figures
  // (row counts with `counts`, else money), the detail and the items. `r` is the check's
  // recon_results.sql row for the month; without one the card says the month is not reconciled yet.
  function checkCard(r, label, counts, period, checkId) {
    var card = node("article", { class: "check", "data-check": r ? r.check_id : checkId, "data-status": r ? r.status : "" });
    var head = card.appendChild(node("header"));
    head.appendChild(node("strong", null, label));
    head.appendChild(node("span", { class: "badge" + (r ? " " + r.status : "") },
      !r ? "" : r.status === "not_configured" ? "not configured" : r.status));
    card.appendChild(node("p", { class: "lead" }, r ? reconSentence(r, label, counts) : "Not reconciled for " + period + " yet."));
    if (!r) return card;
    var more = node("details", { class: "more" });
    more.appendChild(node("summary", null, "Detail"));
    if (r.expected !== null || r.actual !== null) {
      var f = function (v) { return counts ? number(v, 0) : money(v, CURRENCY, true); };
      more.appendChild(node("div", { class: "figures" },
        "expected " + f(r.expected) + " · actual " + f(r.actual) + " · difference " + f(r.difference)));
    }
    if (r.detail) {
      var parts = String(r.detail).split(" | ");
      var detail = more.appendChild(node(parts.length > 1 ? "ul" : "p", { class: "detail" }, parts.length > 1 ? null : moneyIn(parts[0])));
      if (parts.length > 1) parts.forEach(function (part) { detail.appendChild(node("li", null, moneyIn(part))); });
    }
    if (r.items) {
      more.appendChild(node("p", { class: "detail" }, plural(r.items, "item") + " totalling " + money(r.items_total, CURRENCY, true)
        + "; the oldest " + itemRef(r.oldest_record, r.oldest_date, r.oldest_amount, r.oldest_reason)));
    }
    if (more.children.length > 1) card.appendChild(more);
    return card;
  }

  return {
    hundredths: hundredths, abs: abs, digits: digits, negative: negative, symbolOf: symbolOf, money: money,
    number: number, moneyIn: moneyIn, plural: plural, itemRef: itemRef, reconSentence: reconSentence,
    checkCard: checkCard,
  };
};
