/*
 * main.js: starts the page. It asks the server who is logged in (GET /api/user) and
 * shows either the visitor's page or the person's tasks, and it switches between the two
 * on logging in, logging out, and a session that ended elsewhere.
 */
(function (TT, $) {
  "use strict";

  let user = null;

  function showView(signedIn) {
    $("#loading").prop("hidden", true);
    $("#visitor-actions, #visitor-view").prop("hidden", signedIn);
    $("#user-actions, #tasks-view").prop("hidden", !signedIn);
  }

  async function signedIn(account) {
    user = account;
    $("#account-email").text(account.email).attr("title", account.email);
    TT.notify("");
    showView(true);
    $("#tasks-view").attr("aria-busy", "true");
    const failed = await TT.tasks.load();
    $("#tasks-view").removeAttr("aria-busy");
    if (failed && user === account) {
      TT.notify("Your tasks could not be loaded: " + failed.message, "danger");
    }
  }

  function signedOut(message) {
    user = null;
    TT.editor.reset();
    TT.tasks.clear();
    $("#account-email").text("").removeAttr("title");
    $(".modal.show").each(function () {
      window.bootstrap.Modal.getOrCreateInstance(this).hide();
    });
    showView(false);
    TT.notify(message || "", "warning");
  }

  async function start() {
    const reply = await TT.api.call("GET", "/api/user");
    if (reply.ok && reply.body) {
      signedIn(reply.body);
    } else if (reply.status === 401) {
      showView(false);
    } else {
      showView(false);
      TT.notify("The server cannot tell whether you are logged in: " + reply.message, "danger");
    }
  }

  $(function () {
    TT.account.bind();
    TT.tasks.bindAddForm();
    TT.editor.bind();

    $(document).on("tt:session-lost", function () {
      if (user) {
        signedOut("Your session has ended; log in again to go on.");
      }
    });

    // The last edits leave with the page (closed, reloaded, or sent to the background).
    $(window).on("pagehide", function () {
      TT.editor.flushAll({ keepalive: true });
    });
    $(document).on("visibilitychange", function () {
      if (document.visibilityState === "hidden") {
        TT.editor.flushAll({ keepalive: true });
      }
    });

    start();
  });

  TT.app = {
    signedIn: signedIn,
    signedOut: signedOut,
  };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
