/*
 * main.js: starts the page. It follows a mail's link in the fragment (links.js), asks the
 * server who is logged in (GET /api/user) and shows either the visitor's page or the
 * person's tasks, and it switches between the two on logging in, logging out, and a
 * session that ended elsewhere. A link to a task (#task=<id>) opens it once the tasks are
 * loaded, after logging in if need be.
 */
(function (TT, $) {
  "use strict";

  let user = null;
  let tasksLoaded = Promise.resolve(); // the loading of the signed-in person's tasks

  function showView(signedIn) {
    $("#loading").prop("hidden", true);
    $("#visitor-actions, #visitor-view").prop("hidden", signedIn);
    $("#user-actions, #tasks-view").prop("hidden", !signedIn);
  }

  /** The account as the server last described it (after a change of preferences, say). */
  function update(account) {
    const zoneBefore = user && user.timezone;
    user = account;
    $("#account-email").text(account.email).attr("title", account.email);
    TT.settings.show(account);
    if (zoneBefore && zoneBefore !== account.timezone) {
      TT.tasks.render(); // "today" and the times are the new timezone's
      TT.editor.refreshZone();
    }
  }

  async function signedIn(account) {
    update(account);
    TT.notify("");
    showView(true);
    $("#tasks-view").attr("aria-busy", "true");
    tasksLoaded = TT.live.start(); // the stream first, then the list (live.js)
    const failed = await tasksLoaded;
    $("#tasks-view").removeAttr("aria-busy");
    if (failed && user === account) {
      TT.notify("Your tasks could not be loaded: " + failed.message, "danger");
    }
    if (user === account) {
      openLinkedTask();
    }
  }

  /** Follow a link to a task: open it, or ask the visitor to log in first. */
  async function openLinkedTask() {
    const id = TT.links.linkedTask();
    if (!id) {
      return;
    }
    if (!user) {
      TT.notify("Log in to see the task that link is for.", "info");
      const login = $("#login-modal")[0];
      if (!$(".modal.show").length) {
        window.bootstrap.Modal.getOrCreateInstance(login).show();
      }
      return;
    }
    await tasksLoaded;
    TT.links.forgetLinkedTask();
    await TT.editor.openById(id);
  }

  function signedOut(message, kind) {
    user = null;
    tasksLoaded = Promise.resolve();
    TT.live.stop();
    TT.undo.reset();
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
      openLinkedTask();
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
    if (TT.links.linkedTask()) {
      openLinkedTask();
      return;
    }
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
    TT.tasks.bindList();
    TT.editor.bind();
    TT.undo.bind();
    TT.settings.bind();
    $(window).on("hashchange", onLink);

    $(document).on("tt:session-lost", function () {
      if (user) {
        signedOut("Your session has ended; log in again to go on.");
      }
    });

    // The last edits leave with the page (closed, reloaded, or sent to the background).
    // A deletion waiting for its Undo is sent first: its task's edits then need no sending.
    function leaving() {
      TT.undo.commitAll({ keepalive: true });
      TT.editor.flushAll({ keepalive: true });
      TT.settings.flush({ keepalive: true });
    }
    $(window).on("pagehide", leaving);
    $(document).on("visibilitychange", function () {
      if (document.visibilityState === "hidden") {
        leaving();
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
