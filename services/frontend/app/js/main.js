/*
 * main.js: starts the page. It follows a mail's link in the fragment (links.js), asks the
 * server who is logged in (GET /api/user) and shows either the visitor's page or the
 * person's tasks, and it switches between the two on logging in, logging out, and a
 * session that ended elsewhere.
 */
(function (TT, $) {
  "use strict";

  let user = null;

  function showView(signedIn) {
    $("#loading").prop("hidden", true);
    $("#visitor-actions, #visitor-view").prop("hidden", signedIn);
    $("#user-actions, #tasks-view").prop("hidden", !signedIn);
  }

  /** The account as the server last described it (after a change of preferences, say). */
  function update(account) {
    user = account;
    $("#account-email").text(account.email).attr("title", account.email);
    TT.settings.show(account);
  }

  async function signedIn(account) {
    update(account);
    TT.notify("");
    showView(true);
    $("#tasks-view").attr("aria-busy", "true");
    const failed = await TT.tasks.load();
    $("#tasks-view").removeAttr("aria-busy");
    if (failed && user === account) {
      TT.notify("Your tasks could not be loaded: " + failed.message, "danger");
    }
  }

  function signedOut(message, kind) {
    user = null;
    TT.editor.reset();
    TT.settings.reset();
    TT.tasks.clear();
    $("#account-email").text("").removeAttr("title");
    $(".modal.show").each(function () {
      window.bootstrap.Modal.getOrCreateInstance(this).hide();
    });
    showView(false);
    TT.notify(message || "", kind || "warning");
  }

  async function start() {
    // A link from a mail first: confirming the address changes what the page shows.
    const link = TT.links.take();
    const outcome = link && link.kind === "verify-email" ? await TT.links.verify(link.token) : null;
    const reply = await TT.api.call("GET", "/api/user");
    if (reply.ok && reply.body) {
      signedIn(reply.body);
    } else if (reply.status === 401) {
      showView(false);
    } else {
      showView(false);
      TT.notify("The server cannot tell whether you are logged in: " + reply.message, "danger");
    }
    if (outcome) {
      TT.notify(outcome.message, outcome.kind);
    }
    if (link && link.kind === "reset-password") {
      TT.account.askNewPassword(link.token);
    }
  }

  /** A mail's link opened in a tab where the app already runs. */
  async function onLink() {
    const link = TT.links.take();
    if (!link) {
      return;
    }
    if (link.kind === "reset-password") {
      TT.account.askNewPassword(link.token);
      return;
    }
    const outcome = await TT.links.verify(link.token);
    if (user && outcome.account) {
      update(outcome.account);
    }
    TT.notify(outcome.message, outcome.kind);
  }

  $(function () {
    TT.account.bind();
    TT.tasks.bindAddForm();
    TT.editor.bind();
    TT.settings.bind();
    $(window).on("hashchange", onLink);

    $(document).on("tt:session-lost", function () {
      if (user) {
        signedOut("Your session has ended; log in again to go on.");
      }
    });

    // The last edits leave with the page (closed, reloaded, or sent to the background).
    $(window).on("pagehide", function () {
      TT.editor.flushAll({ keepalive: true });
      TT.settings.flush({ keepalive: true });
    });
    $(document).on("visibilitychange", function () {
      if (document.visibilityState === "hidden") {
        TT.editor.flushAll({ keepalive: true });
        TT.settings.flush({ keepalive: true });
      }
    });

    start();
  });

  TT.app = {
    signedIn: signedIn,
    signedOut: signedOut,
    update: update,
    user: function () { return user; },
  };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
