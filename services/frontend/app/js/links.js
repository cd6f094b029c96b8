/*
 * links.js: the links in mails. They carry their token in the URL's fragment
 * (#verify-email=<token>, #reset-password=<token>), which the browser never sends to a
 * server; the page reads it, removes it from the address bar and the history at once, and
 * posts the token.
 *
 * A reminder's link names a task (#task=<id>): no secret, so it stays in the address bar
 * until the task is opened (a reload before logging in keeps it), and then goes.
 */
(function (TT, $) {
  "use strict";

  const LINK = /^#(verify-email|reset-password)=([A-Za-z0-9_\-.~%]+)$/;
  const TASK_LINK = /^#task=([A-Za-z0-9_-]+)$/;

  function clearFragment() {
    window.history.replaceState(
      window.history.state,
      "",
      window.location.pathname + window.location.search
    );
  }

  /** The id of the task the address bar links to, or null; left in the address bar. */
  function linkedTask() {
    const match = TASK_LINK.exec(window.location.hash);
    return match ? match[1] : null;
  }

  /** Take the task link out of the address bar (it has been followed). */
  function forgetLinkedTask() {
    if (linkedTask()) {
      clearFragment();
    }
  }

  /** The link in the address bar ({kind, token}), taken out of it; null when there is none. */
  function take() {
    const match = LINK.exec(window.location.hash);
    if (!match) {
      return null;
    }
    clearFragment();
    let token;
    try {
      token = decodeURIComponent(match[2]);
    } catch (error) {
      token = match[2];
    }
    return { kind: match[1], token: token };
  }

  /** Confirm the address; settles with what to tell the person ({message, kind, account}). */
  async function verify(token) {
    const reply = await TT.api.call("POST", "/api/user/email-verification", {
      body: { token: token },
      anonymous: true,
    });
    if (reply.ok && reply.body) {
      return {
        message: "Thank you: your address " + reply.body.email + " is confirmed.",
        kind: "success",
        account: reply.body,
      };
    }
    if (reply.status === 400) {
      return {
        message:
          "Your address could not be confirmed: " + TT.forms.sentence(reply.message) +
          " Log in to send yourself a new link.",
        kind: "warning",
        account: null,
      };
    }
    return {
      message: "Your address could not be confirmed: " + reply.message,
      kind: "danger",
      account: null,
    };
  }

  TT.links = {
    take: take,
    verify: verify,
    linkedTask: linkedTask,
    forgetLinkedTask: forgetLinkedTask,
  };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
