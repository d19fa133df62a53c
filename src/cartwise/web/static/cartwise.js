/*! Cartwise tracker: sends storefront events to a Cartwise collector. No third-party code.
 *
 *   <script src="https://YOUR-CARTWISE/static/cartwise.js"></script>
 *   <script>
 *     cartwise.init({ endpoint: "https://YOUR-CARTWISE", key: "cw_…" });   // a `collect` key
 *     cartwise.view("sku-1");                                         // a product page
 *     cartwise.addToCart("sku-1", { quantity: 1, price: 24.9 });
 *     cartwise.purchase("order-77", [{ item_id: "sku-1", quantity: 1, price: 24.9 }]);
 *     cartwise.identify("customer-42");                              // after sign-in
 *     cartwise.variant("hero-banner").then(function (v) { ... });    // "control", "b", ... or null
 *   </script>
 *
 * Every event gets a random event_id, so a retried batch is stored once. Events wait in
 * localStorage until the collector acknowledges them, so a page change or a network failure
 * loses nothing; failed sends are retried with exponential backoff (1 s doubling to 60 s).
 * The anonymous visitor id lives in localStorage, the session id in sessionStorage (a new
 * session after 30 minutes without events).
 *
 * `variant(key)` asks `GET /api/v1/experiments/{key}/assign` for the current user's (or
 * visitor's) variant once per page and user, and resolves to its name, or null when the user
 * is outside the experiment or the server cannot be reached (show the control then).
 */
(function (global) {
  "use strict";
  var QUEUE_KEY = "cartwise_queue", VISITOR_KEY = "cartwise_visitor", USER_KEY = "cartwise_user";
  var SESSION_KEY = "cartwise_session", SESSION_SEEN_KEY = "cartwise_session_seen";
  var SESSION_IDLE_MS = 30 * 60 * 1000, MAX_QUEUE = 5000;
  var cfg = { endpoint: "", key: "", flushMs: 2000, maxBatch: 100 };
  var timer = null, sending = false, backoffMs = 0, variants = {};

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    var b = new Uint8Array(16);
    global.crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }
  function read(store, key) { try { return store.getItem(key); } catch (e) { return null; } }
  function write(store, key, value) { try { store.setItem(key, value); } catch (e) { /* private mode: keep going */ } }
  function loadQueue() { try { return JSON.parse(read(global.localStorage, QUEUE_KEY) || "[]"); } catch (e) { return []; } }
  function saveQueue(q) { write(global.localStorage, QUEUE_KEY, JSON.stringify(q.slice(-MAX_QUEUE))); }

  function visitorId() {
    var id = read(global.localStorage, VISITOR_KEY);
    if (!id) { id = "v-" + uuid(); write(global.localStorage, VISITOR_KEY, id); }
    return id;
  }
  function sessionId() {
    var now = Date.now();
    var id = read(global.sessionStorage, SESSION_KEY);
    var seen = Number(read(global.sessionStorage, SESSION_SEEN_KEY) || 0);
    if (!id || now - seen > SESSION_IDLE_MS) { id = "s-" + uuid(); write(global.sessionStorage, SESSION_KEY, id); }
    write(global.sessionStorage, SESSION_SEEN_KEY, String(now));
    return id;
  }

  function schedule(ms) {
    if (timer) return;
    timer = setTimeout(function () { timer = null; flush(); }, ms);
  }

  function flush(keepalive) {
    if (sending || !cfg.endpoint) return Promise.resolve();
    var queue = loadQueue();
    if (!queue.length) return Promise.resolve();
    var batch = queue.slice(0, cfg.maxBatch);
    sending = true;
    return fetch(cfg.endpoint.replace(/\/$/, "") + "/api/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Authorization": "Bearer " + cfg.key },
      body: JSON.stringify({ events: batch }),
      keepalive: !!keepalive,
      credentials: "omit",
    }).then(function (response) {
      // 2xx: acknowledged. Other 4xx (except 408/429) will never succeed: drop rather than loop.
      var retry = response.status === 408 || response.status === 429 || response.status >= 500;
      if (!retry) {
        var sent = {};
        batch.forEach(function (e) { sent[e.event_id] = true; });
        saveQueue(loadQueue().filter(function (e) { return !sent[e.event_id]; }));
        backoffMs = 0;
        if (!response.ok && global.console) global.console.warn("cartwise: events refused with HTTP " + response.status);
      }
      return retry;
    }, function () { return true; }).then(function (retry) {
      sending = false;
      if (retry) { backoffMs = Math.min(backoffMs ? backoffMs * 2 : 1000, 60000); schedule(backoffMs); }
      else if (loadQueue().length) schedule(0);
    });
  }

  function track(type, fields) {
    var event = { event_id: uuid(), ts: new Date().toISOString(), type: type,
                  user_id: read(global.localStorage, USER_KEY) || visitorId(), session_id: sessionId() };
    var props = { page: global.location ? global.location.pathname : undefined };
    Object.keys(fields || {}).forEach(function (k) {
      if (["item_id", "quantity", "price", "order_id", "revenue"].indexOf(k) >= 0) event[k] = fields[k];
      else props[k] = fields[k];
    });
    event.properties = props;
    var queue = loadQueue();
    queue.push(event);
    saveQueue(queue);
    if (queue.length >= cfg.maxBatch) flush(); else schedule(backoffMs || cfg.flushMs);
    return event.event_id;
  }

  function variant(key) {
    var user = read(global.localStorage, USER_KEY) || visitorId();
    var cacheKey = key + "\u0000" + user;
    if (!variants[cacheKey]) {
      var url = cfg.endpoint.replace(/\/$/, "") + "/api/v1/experiments/" + encodeURIComponent(key) +
        "/assign?user_id=" + encodeURIComponent(user);
      variants[cacheKey] = fetch(url, { headers: { "Authorization": "Bearer " + cfg.key } })
        .then(function (response) { return response.ok ? response.json() : { variant: null }; })
        .then(function (body) { return body.variant; }, function () { delete variants[cacheKey]; return null; });
    }
    return variants[cacheKey];
  }

  var api = {
    init: function (options) {
      Object.keys(options || {}).forEach(function (k) { cfg[k] = options[k]; });
      global.addEventListener("pagehide", function () { flush(true); });
      schedule(0);  // send whatever an earlier page left behind
      return api;
    },
    identify: function (userId) { write(global.localStorage, USER_KEY, String(userId)); },
    track: track,
    view: function (itemId, extra) { return track("view", Object.assign({ item_id: itemId }, extra || {})); },
    addToCart: function (itemId, extra) { return track("add_to_cart", Object.assign({ item_id: itemId, quantity: 1 }, extra || {})); },
    purchase: function (orderId, lines) {
      return (lines || []).map(function (line) { return track("purchase", Object.assign({ order_id: orderId }, line)); });
    },
    variant: variant,
    flush: function () { return flush(); },
    pending: function () { return loadQueue().length; },
  };
  global.cartwise = api;
})(window);
