// Preload for a vendor's Node MCP server under test: `node --require redirect.cjs server.js`.
// Sends the server's outbound HTTP(S) for the vendor's hosts to a local stand-in, without touching
// the package. CLOSEBOARD_REDIRECT is a JSON object {"api.xero.com": "http://127.0.0.1:PORT", ...};
// a host missing from it is refused (the tests never reach the internet). Covers http.request,
// https.request, their .get, and the global fetch (undici), whichever copy of axios or SDK calls them.
"use strict";
const http = require("http");
const https = require("https");

const map = JSON.parse(process.env.CLOSEBOARD_REDIRECT || "{}");
const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1"]);

function target(host) {
  const bare = String(host || "").replace(/:\d+$/, "");
  if (map[bare]) return new URL(map[bare]);
  if (LOOPBACK.has(bare)) return null;
  throw new Error(`redirect.cjs: outbound request to ${bare} has no stand-in (CLOSEBOARD_REDIRECT)`);
}

function rewrite(args) {
  // normalise (url?, options?, callback?) to [options, callback]
  let url = null, options = {}, callback;
  for (const a of args) {
    if (typeof a === "string" || a instanceof URL) url = new URL(a);
    else if (typeof a === "function") callback = a;
    else if (a && typeof a === "object") options = a;
  }
  const opts = url
    ? { protocol: url.protocol, hostname: url.hostname, port: url.port, path: url.pathname + url.search, ...options }
    : { ...options };
  const host = opts.hostname || opts.host;
  const to = target(host);
  if (!to) return null;
  const originalHost = String(host).replace(/:\d+$/, "");
  delete opts.agent;
  delete opts.host;
  opts.protocol = "http:";
  opts.hostname = to.hostname;
  opts.port = to.port;
  opts.headers = { ...(opts.headers || {}), "x-forwarded-host": originalHost };
  return [opts, callback];
}

for (const mod of [http, https]) {
  const original = mod.request;
  const wrapped = function request(...args) {
    const rewritten = rewrite(args);
    if (!rewritten) return original.apply(mod, args);
    return http.request.__closeboardOriginal(...rewritten.filter((a) => a !== undefined));
  };
  wrapped.__closeboardOriginal = original;
  mod.request = wrapped;
  mod.get = function get(...args) {
    const req = mod.request(...args);
    req.end();
    return req;
  };
}

if (typeof globalThis.fetch === "function") {
  const originalFetch = globalThis.fetch;
  globalThis.fetch = function fetch(input, init) {
    const url = new URL(typeof input === "string" || input instanceof URL ? input : input.url);
    const to = target(url.hostname);
    if (!to) return originalFetch(input, init);
    const originalHost = url.hostname;
    url.protocol = "http:";
    url.hostname = to.hostname;
    url.port = to.port;
    const headers = new Headers((init && init.headers) || (typeof input === "object" && input.headers) || {});
    headers.set("x-forwarded-host", originalHost);
    if (typeof input === "object" && !(input instanceof URL)) {
      return originalFetch(new Request(url, input), { ...init, headers });
    }
    return originalFetch(url, { ...init, headers });
  };
}
