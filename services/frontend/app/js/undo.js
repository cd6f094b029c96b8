/*
 * undo.js: the bar at the bottom of the page that offers "Undo" for a few seconds after
 * a task is ticked done (or open again) or deleted.
 *
 * An action is offered as {message, undo, commit}. Ticking is sent at once and undone by
 * sending the opposite, so its commit does nothing. A deletion is held back instead: the
 * task leaves the list, and DELETE is sent (commit) only when the offer ends: its time is
 * up, another action takes the bar, the person logs out, or the page is hidden or closed
 * (then with fetch keepalive, which outlives the page). Undo simply shows the task again.
 * Holding the request back rather than deleting and re-creating on Undo keeps the task as
 * it was (its id, which reminder mails link to, its dates and history); if the page dies
 * without a word, the task is still there, never lost.
 *
 * The time runs only while the person is not on the bar (hover or keyboard focus).
 */
(function (TT, $) {
  "use strict";

  const UNDO_MS = 6000;

  let offer = null; // {message, undo, commit}
  let timer = null;
  let hovered = false;
  let focused = false;

  function show(message) {
    $("#undo-message").text(message);
    $("#undo-bar").prop("hidden", !message);
  }

  function startTimer() {
    clearTimeout(timer);
    timer = hovered || focused ? null : setTimeout(expire, UNDO_MS);
  }

  function close() {
    clearTimeout(timer);
    timer = null;
    const ended = offer;
    offer = null;
    hovered = false; // a bar being hidden gets no mouseleave
    focused = false;
    const hadFocus = $("#undo-bar").find(document.activeElement).length > 0;
    show("");
    if (hadFocus) {
      $("#new-task-title").trigger("focus");
    }
    return ended;
  }

  function expire() {
    const ended = close();
    if (ended) {
      ended.commit({ keepalive: false });
    }
  }

  /** Offer to undo an action; the offer before it, if any, is committed now. */
  function offerUndo(action) {
    const previous = close();
    if (previous) {
      previous.commit({ keepalive: false });
    }
    offer = action;
    show(action.message);
    startTimer();
  }

  function undo() {
    const ended = close();
    if (ended) {
      ended.undo();
    }
  }

  /** Commit what waits (logging out, the page going away); settles when it is sent. */
  function commitAll(options) {
    const ended = close();
    return ended ? Promise.resolve(ended.commit(options || { keepalive: false })) : Promise.resolve();
  }

  /** Forget what waits without sending it (the session has ended). */
  function reset() {
    close();
  }

  function bind() {
    $("#undo-button").on("click", undo);
    function restart() {
      if (offer) {
        startTimer(); // stopped while hovered or focused, running again once neither
      }
    }
    $("#undo-bar")
      .on("mouseenter", function () { hovered = true; restart(); })
      .on("mouseleave", function () { hovered = false; restart(); })
      .on("focusin", function () { focused = true; restart(); })
      .on("focusout", function (event) {
        focused = this.contains(event.relatedTarget);
        restart();
      });
  }

  TT.undo = { bind: bind, offer: offerUndo, commitAll: commitAll, reset: reset };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
