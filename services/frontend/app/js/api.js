/*
 * api.js: every call to the API goes through TaskTracker.api.call.
 *
 * The browser is authenticated by HttpOnly cookies, so this code never sees a token. When
 * a call is refused with 401 (the short-lived access cookie expired), the session is
 * renewed once through POST /api/session/refresh and the call is sent again; only when
 * the renewal fails is the person treated as logged out ("tt:session-lost" on document).
 *
 * Every tab of the browser holds the same refresh cookie, which the server rotates on each
 * use, so tabs renew one at a time under a Web Lock. A tab that gets the lock first asks
 * whether its access cookie works by now: when another tab renewed while it waited, it
 * does, and this tab does not renew again.
 */
(function (TT, $) {
  "use strict";

  const REFRESH_PATH = "/api/session/refresh";
  const PROBE_PATH = "/api/user";
  const REFRESH_LOCK = "task-tracker-session-refresh";
  const TIMEOUT_MS = 30000;
  const MAX_RETRY_WAIT_MS = 5000;

  // Counts successful renewals. A 401 to a request sent before the latest renewal is
  // answered by sending it again, not by renewing a second time.
  let generation = 0;
  // The renewal under way, shared by every call that needs it: the refresh token is
  // rotated on each use, so two renewals in parallel would look like a stolen token.
  let renewal = null;

  const FALLBACK_MESSAGES = {
    0: "The server cannot be reached; check your connection and try again.",
    401: "You are not logged in.",
    404: "Not found.",
  };

  /** A settled call: never a rejection, `status` is 0 when nothing came back. */
  class Reply {
    constructor(status, text, contentType, header) {
      this.status = status;
      this.ok = status >= 200 && status < 300;
      this.body = parseBody(text, contentType);
      this.header = header;
    }

    /** The server's message for a person, or a readable stand-in. */
    get message() {
      if (this.body && typeof this.body.message === "string" && this.body.message) {
        return this.body.message;
      }
      if (this.status >= 500) {
        return "The server had a problem; try again in a moment.";
      }
      return FALLBACK_MESSAGES[this.status] || "The request failed (" + this.status + ").";
    }
  }

  function parseBody(text, contentType) {
    if (!text || !/json/i.test(contentType || "")) {
      return null;
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      return null;
    }
  }

  function requestHeaders(body, headers) {
    const all = Object.assign({ Accept: "application/json" }, headers);
    if (body !== undefined) {
      all["Content-Type"] = "application/json";
    }
    return all;
  }

  function viaAjax(method, url, body, headers) {
    return new Promise(function (resolve) {
      function settle(xhr) {
        resolve(new Reply(
          xhr.status,
          xhr.responseText,
          xhr.getResponseHeader("Content-Type"),
          function (name) { return xhr.getResponseHeader(name); }
        ));
      }
      $.ajax({
        url: url,
        method: method,
        headers: requestHeaders(body, headers),
        data: body === undefined ? undefined : JSON.stringify(body),
        processData: false,
        contentType: false,
        dataType: "text",
        timeout: TIMEOUT_MS,
      }).then(
        function (text, status, xhr) { settle(xhr); },
        function (xhr) { settle(xhr); }
      );
    });
  }

  // fetch with keepalive outlives the page: used to send the last edits while it unloads.
  function viaFetch(method, url, body, headers) {
    return fetch(url, {
      method: method,
      headers: requestHeaders(body, headers),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      keepalive: true,
    }).then(
      function (response) {
        return response.text().then(function (text) {
          return new Reply(
            response.status,
            text,
            response.headers.get("Content-Type"),
            function (name) { return response.headers.get(name); }
          );
        });
      },
      function () {
        return new Reply(0, "", null, function () { return null; });
      }
    );
  }

  function renew(sentInGeneration) {
    if (generation !== sentInGeneration) {
      return Promise.resolve(true);
    }
    if (!renewal) {
      renewal = renewAcrossTabs()
        .then(function (renewed) {
          if (renewed) {
            generation += 1;
          }
          return renewed;
        })
        .finally(function () { renewal = null; });
    }
    return renewal;
  }

  async function refresh() {
    return (await viaAjax("POST", REFRESH_PATH)).ok;
  }

  /** Renew the session unless another tab of this browser has just done it. */
  function renewAcrossTabs() {
    if (!(navigator.locks && navigator.locks.request)) {
      return refresh();
    }
    return navigator.locks.request(REFRESH_LOCK, async function () {
      const probe = await viaAjax("GET", PROBE_PATH);
      if (probe.ok) {
        return true; // renewed by another tab while this one waited for the lock
      }
      return refresh();
    });
  }

  function pause(milliseconds) {
    return new Promise(function (resolve) { setTimeout(resolve, milliseconds); });
  }

  function transportFor(method, keepalive) {
    const transport = keepalive ? viaFetch : viaAjax;
    if (method !== "GET") {
      return transport;
    }
    // A read refused with 503 (a service starting, or briefly down) is tried once more.
    return async function (...request) {
      const reply = await transport(...request);
      if (reply.status !== 503) {
        return reply;
      }
      const seconds = Number(reply.header("Retry-After"));
      await pause(seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_WAIT_MS) : 1000);
      return transport(...request);
    };
  }

  /**
   * Send a request and settle with a Reply.
   * options.body: sent as JSON; options.headers: extra headers;
   * options.keepalive: the request must survive the page unloading;
   * options.anonymous: a 401 is an answer (wrong password), not an expired session.
   */
  async function call(method, url, options) {
    const settings = options || {};
    const send = transportFor(method, settings.keepalive);
    const sentIn = generation;
    const reply = await send(method, url, settings.body, settings.headers);
    if (reply.status !== 401 || settings.anonymous) {
      return reply;
    }
    if (await renew(sentIn)) {
      const retried = await send(method, url, settings.body, settings.headers);
      if (retried.status !== 401) {
        return retried;
      }
    }
    $(document).trigger("tt:session-lost");
    return reply;
  }

  /** The URL of the next page named by a `Link: <...>; rel="next"` header, or null. */
  function nextPage(reply) {
    const header = reply.header("Link");
    if (!header) {
      return null;
    }
    for (const link of header.split(",")) {
      const match = /^\s*<([^>]*)>(.*)$/.exec(link);
      const rel = match && /;\s*rel\s*=\s*"?([^";]*)/i.exec(match[2]);
      if (rel && rel[1].toLowerCase().split(/\s+/).includes("next")) {
        // Only the path is kept: every page comes from this origin, through the gateway.
        const url = new URL(match[1], window.location.href);
        return url.pathname + url.search;
      }
    }
    return null;
  }

  TT.api = { call: call, nextPage: nextPage };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
