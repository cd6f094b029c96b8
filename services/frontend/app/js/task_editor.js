/*
 * task_editor.js: the task modal, which has no Save button. Each edit is sent by itself:
 * typing after a pause of DEBOUNCE_MS, a click at once, and whatever is still waiting when
 * the modal closes or the page goes away (with fetch keepalive, which outlives the page).
 *
 * Each task being edited has a Saver. It sends one PATCH at a time with If-Match, so its
 * own edits never collide; a 412 means someone else changed the task meanwhile: the task
 * is loaded again and the modal says so. The checkbox on each list item goes through the
 * same Saver, so a tick and an edit in the modal never race.
 *
 * The due date and time are the person's wall clock in their account's timezone; the
 * reminder is stored as an instant (`reminder_at`). The choices relative to the due time
 * ("1 hour before") are not stored as such: the modal recognises them by computing each
 * one, and moving the due date or time moves a relative reminder with it, in one PATCH.
 * When the due time goes away, a relative reminder stays where it is, as a custom one.
 *
 * Deleting hides the task and offers Undo (undo.js); the DELETE follows when the offer ends.
 *
 * Changes made elsewhere arrive through live.js (applyRemote, applyDeleted).
 */
(function (TT, $) {
  "use strict";

  const DEBOUNCE_MS = 400;
  const RETRY_MS = 5000;

  const savers = new Map(); // task id -> Saver
  let current = null; // the Saver of the task in the modal
  let reminderChoice = "none"; // the reminder choice the modal shows (see dates.js)
  let $modal;
  let $form;

  function modal() {
    return window.bootstrap.Modal.getOrCreateInstance($modal[0]);
  }

  function etagOf(task) {
    return '"' + task.version + '"';
  }

  class Saver {
    constructor(task) {
      this.task = task; // the latest copy the server confirmed
      this.etag = etagOf(task);
      this.pending = {}; // edits not sent yet
      this.sending = {}; // edits sent, not answered yet
      this.timer = null;
      this.inFlight = null; // the PATCH under way
      this.problem = ""; // why the last save failed
      this.reloaded = false; // loaded again after a conflict, not edited since
      this.removed = false; // deleted, or forgotten at logout: late answers are ignored
      this.state = "saved"; // saved | saving | error | reloaded
    }

    get id() {
      return this.task.id;
    }

    /** The task as the person sees it: the confirmed copy with the edits on top. */
    shown() {
      const view = Object.assign({}, this.task, this.sending, this.pending);
      if (view.status !== this.task.status) {
        view.completed_at = view.status === "done" ? new Date().toISOString() : null;
      }
      return view;
    }

    edit(fields, immediately) {
      Object.assign(this.pending, fields);
      this.problem = "";
      this.reloaded = false;
      TT.tasks.put(this.shown());
      clearTimeout(this.timer);
      this.timer = immediately ? null : setTimeout(() => this.flush(), DEBOUNCE_MS);
      if (immediately) {
        this.flush();
      }
      this.updateState();
    }

    /** Forget an edit that must not be sent (an emptied title). */
    withdraw(field) {
      delete this.pending[field];
      TT.tasks.put(this.shown());
      this.updateState();
    }

    /** Send what is waiting; settles when the server has answered for all of it. */
    flush(options) {
      const keepalive = Boolean(options && options.keepalive);
      clearTimeout(this.timer);
      this.timer = null;
      if ($.isEmptyObject(this.pending)) {
        return this.inFlight || Promise.resolve();
      }
      if (this.inFlight && !keepalive) {
        return this.inFlight.then(() => this.flush());
      }
      return this.send(keepalive);
    }

    send(keepalive) {
      const fields = this.pending;
      this.pending = {};
      this.sending = Object.assign({}, this.sending, fields);
      const headers = {};
      // A page that is going away cannot wait for the save under way to learn the next
      // version; the only writer it races with is itself, so it sends without a condition.
      if (!this.inFlight) {
        headers["If-Match"] = this.etag;
      }
      const sent = TT.api
        .call("PATCH", TT.tasks.url(this.id), { body: fields, headers: headers, keepalive: keepalive })
        .then(this.settle.bind(this, fields));
      const tracked = sent.finally(() => {
        if (this.inFlight === tracked) {
          this.inFlight = null;
        }
        this.updateState();
      });
      this.inFlight = tracked;
      this.updateState();
      return tracked;
    }

    async settle(fields, reply) {
      if (this.removed) {
        return;
      }
      this.sending = {};
      if (reply.ok && reply.body) {
        this.accept(reply.body, reply.header("ETag"));
        this.problem = "";
      } else if (reply.status === 412) {
        await this.reload();
      } else if (reply.status === 404) {
        this.gone();
      } else if (reply.status === 0 || reply.status >= 500 || reply.status === 429) {
        // Kept, and sent again shortly (or with the next edit).
        this.pending = Object.assign({}, fields, this.pending);
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.flush(), RETRY_MS);
        this.fail(
          reply.status === 0
            ? "the server cannot be reached; trying again shortly."
            : reply.message + " Trying again shortly."
        );
      } else {
        // Refused (invalid input): the modal keeps the text, the list shows what is stored.
        TT.tasks.put(this.shown());
        this.fail(reply.message);
        if (this === current) {
          TT.forms.showReply($form, reply);
        }
      }
    }

    accept(task, etag) {
      if (this.removed || task.version < this.task.version) {
        return; // deleted meanwhile, or an older answer that arrived late
      }
      this.task = task;
      this.etag = etag || etagOf(task);
      TT.tasks.put(this.shown());
      if (this === current) {
        showDates(this.shown());
        showDue(this.shown());
      }
    }

    async reload() {
      clearTimeout(this.timer);
      const reply = await TT.api.call("GET", TT.tasks.url(this.id));
      if (this.removed) {
        return;
      }
      if (reply.status === 404) {
        this.gone();
        return;
      }
      if (!reply.ok) {
        this.fail(reply.message);
        return;
      }
      this.pending = {};
      this.task = reply.body;
      this.etag = reply.header("ETag") || etagOf(reply.body);
      this.problem = "";
      this.reloaded = true;
      TT.tasks.put(this.task);
      this.updateState();
      if (this === current) {
        fill(this.task);
        TT.forms.formError(
          $form,
          "This task was changed somewhere else meanwhile; it has been loaded again as " +
            "it is now. Make your change again if it is still needed."
        );
      } else {
        TT.notify(
          "“" + this.task.title + "” was changed somewhere else meanwhile; it is shown as " +
            "it is now. Make your change again if it is still needed.",
          "warning"
        );
      }
    }

    gone() {
      this.forget();
      TT.tasks.remove(this.id);
      if (this === current) {
        modal().hide();
      }
      TT.notify("That task was deleted somewhere else.", "warning");
    }

    cancel() {
      clearTimeout(this.timer);
      this.timer = null;
      this.pending = {};
      this.sending = {};
    }

    forget() {
      this.cancel();
      this.removed = true;
      if (savers.get(this.id) === this) {
        savers.delete(this.id);
      }
    }

    fail(problem) {
      this.problem = problem;
      this.updateState();
    }

    updateState() {
      if (this.inFlight) {
        this.state = "saving";
      } else if (this.problem) {
        this.state = "error";
      } else if (this.timer || !$.isEmptyObject(this.pending)) {
        this.state = "saving";
      } else {
        this.state = this.reloaded ? "reloaded" : "saved";
      }
      if (this === current) {
        showState(this);
      }
    }
  }

  function saverFor(task) {
    let saver = savers.get(task.id);
    if (!saver) {
      saver = new Saver(task);
      savers.set(task.id, saver);
    }
    return saver;
  }

  const STATES = {
    saved: { text: "All changes saved", className: "text-success" },
    saving: { text: "Saving…", className: "text-body-secondary" },
    reloaded: { text: "Loaded again", className: "text-body-secondary" },
    error: { text: "Not saved", className: "text-danger" },
  };

  function showState(saver) {
    const state = STATES[saver.state];
    const text = saver.state === "error" ? state.text + ": " + saver.problem : state.text;
    $("#task-save-state")
      .removeClass("text-success text-body-secondary text-danger")
      .addClass(state.className)
      .attr("data-state", saver.state)
      .text(text);
  }

  function showDates(task) {
    const parts = [];
    if (task.created_at) {
      parts.push("Created " + TT.tasks.formatDate(task.created_at));
    }
    if (task.status === "done" && task.completed_at) {
      parts.push("done " + TT.tasks.formatDate(task.completed_at));
    }
    $("#task-dates").text(parts.join(", "));
  }

  // Due date, time and reminder

  function isRelative(choice) {
    return choice !== "none" && choice !== "custom";
  }

  function asInstant(milliseconds) {
    return new Date(milliseconds).toISOString();
  }

  /** The due fields' state and help, for the task as shown. */
  function showDue(task) {
    const zone = TT.dates.zone();
    const timed = Boolean(task.due_date && task.due_time);
    $("#task-due-time").prop("disabled", !task.due_date);
    $("#task-due-help").text(
      "In your timezone, " + zone + (task.due_date ? "." : "; a time needs a date.")
    );
    $("#task-reminder option").each(function () {
      this.disabled = isRelative(this.value) && !timed;
    });
    $("#task-reminder").val(reminderChoice);
    $("#task-reminder-custom-field").prop("hidden", reminderChoice !== "custom");
    let help = "";
    const instant = Date.parse(task.reminder_at);
    const user = TT.app.user();
    if (!Number.isNaN(instant)) {
      help = "We mail you a reminder on " + TT.dates.formatInstant(instant, zone) + ".";
      if (instant < Date.now()) {
        help += " That time has passed.";
      } else if (user && user.reminders_enabled === false) {
        help = "Reminder mails are off in Settings: no mail goes out for " +
          TT.dates.formatInstant(instant, zone) + ".";
      }
    } else if (!timed) {
      help = "Reminders before the due time need a due date and time.";
    }
    $("#task-reminder-help").text(help);
  }

  function fillDue(task) {
    const zone = TT.dates.zone();
    const instant = Date.parse(task.reminder_at);
    $("#task-due-date").val(task.due_date || "");
    $("#task-due-time").val(task.due_time || "");
    reminderChoice = TT.dates.reminderChoice(task, zone);
    $("#task-reminder-custom").val(
      Number.isNaN(instant) ? "" : TT.dates.instantToLocalInput(instant, zone)
    );
    showDue(task);
  }

  /** The date or time field changed: both are sent, with a relative reminder moved along. */
  function onDueChange() {
    const date = $("#task-due-date").val() || null;
    // Without a date the time field keeps what it shows (disabled), for when one comes back.
    const time = date ? $("#task-due-time").val() || null : null;
    const fields = { due_date: date, due_time: time };
    TT.forms.clearField($form, "due_date");
    TT.forms.clearField($form, "due_time");
    if (isRelative(reminderChoice)) {
      if (date && time) {
        const instant = TT.dates.reminderFor(reminderChoice, date, time, TT.dates.zone());
        fields.reminder_at = asInstant(instant);
      } else {
        reminderChoice = "custom"; // the instant stays; there is nothing left to follow
      }
    }
    current.edit(fields);
    fillCustom(current.shown());
    showDue(current.shown());
  }

  function fillCustom(task) {
    const instant = Date.parse(task.reminder_at);
    if (!Number.isNaN(instant)) {
      $("#task-reminder-custom").val(TT.dates.instantToLocalInput(instant, TT.dates.zone()));
    }
  }

  function onReminderChoice() {
    const shown = current.shown();
    reminderChoice = this.value;
    TT.forms.clearField($form, "reminder_at");
    if (reminderChoice === "none") {
      current.edit({ reminder_at: null }, true);
    } else if (isRelative(reminderChoice)) {
      const zone = TT.dates.zone();
      const instant = TT.dates.reminderFor(reminderChoice, shown.due_date, shown.due_time, zone);
      current.edit({ reminder_at: asInstant(instant) }, true);
    } else if (!shown.reminder_at && shown.due_date && shown.due_time) {
      // A custom reminder starts at the due time, to be moved from there.
      const due = TT.dates.toInstant(shown.due_date, shown.due_time, TT.dates.zone());
      current.edit({ reminder_at: asInstant(due) }, true);
    }
    fillCustom(current.shown());
    showDue(current.shown());
  }

  function onCustomReminder() {
    const instant = TT.dates.localInputToInstant($(this).val(), TT.dates.zone());
    TT.forms.clearField($form, "reminder_at");
    if (Number.isNaN(instant)) {
      current.withdraw("reminder_at"); // half typed: nothing is sent ("None" removes it)
    } else {
      current.edit({ reminder_at: asInstant(instant) });
    }
    showDue(current.shown());
  }

  function fill(task) {
    TT.forms.clear($form);
    $("#task-title").val(task.title);
    $("#task-description").val(task.description || "");
    fillDue(task);
    $("#task-done").prop("checked", task.status === "done");
    showDates(task);
  }

  function open(id) {
    const task = TT.tasks.get(id);
    if (!task || task.provisional || TT.tasks.isHidden(id)) {
      return;
    }
    if (current && current.id !== id) {
      current.flush(); // another task was in the modal (opened from a link)
    }
    current = saverFor(task);
    fill(current.shown());
    showState(current);
    modal().show();
  }

  /** Close every other modal first (Bootstrap shows one at a time). */
  function closeOtherModals() {
    const open = $(".modal").filter(function () {
      return this !== $modal[0] && ($(this).hasClass("show") || this.style.display === "block");
    });
    return Promise.all(open.map(function () {
      const element = this;
      return new Promise(function (resolve) {
        $(element).one("hidden.bs.modal", resolve);
        window.bootstrap.Modal.getOrCreateInstance(element).hide();
      });
    }).get());
  }

  /** Open a task by its id (from a link): loaded if the list does not have it. */
  async function openById(id) {
    if (!TT.tasks.get(id)) {
      const reply = await TT.api.call("GET", TT.tasks.url(id));
      if (reply.status === 404) {
        TT.notify("The task of that link no longer exists, or belongs to another account.", "warning");
        return;
      }
      if (!reply.ok || !reply.body) {
        TT.notify("The task of that link could not be loaded: " + reply.message, "danger");
        return;
      }
      TT.tasks.put(reply.body);
    }
    if (TT.tasks.isHidden(id)) {
      TT.notify("The task of that link is being deleted; choose Undo to keep it.", "warning");
      return;
    }
    await closeOtherModals();
    open(id);
  }

  // Done and delete from the list, with Undo

  /** Tick a task done or open again (the list's checkbox), with Undo. */
  function setStatus(id, status) {
    const task = TT.tasks.get(id);
    if (!task || task.provisional) {
      return;
    }
    const saver = saverFor(task);
    if (saver.shown().status === status) {
      return;
    }
    saver.edit({ status: status }, true);
    const title = saver.shown().title;
    TT.undo.offer({
      message: "“" + title + "” is " + (status === "done" ? "done." : "open again."),
      undo: function () {
        if (!saver.removed) {
          saver.edit({ status: status === "done" ? "open" : "done" }, true);
          TT.tasks.focusTask(id, "task-check");
        }
      },
      commit: function () {}, // already sent
    });
  }

  /** Take a task off the list and offer Undo; it is deleted when the offer ends. */
  function deleteTask(id) {
    const task = TT.tasks.get(id);
    if (!task || task.provisional || TT.tasks.isHidden(id)) {
      return;
    }
    const saver = saverFor(task);
    const title = saver.shown().title;
    saver.flush(); // the last edits are kept, should the deletion be undone
    TT.tasks.hide(id);
    if (saver === current) {
      modal().hide();
    }
    TT.undo.offer({
      message: "Deleted “" + title + "”.",
      undo: function () {
        TT.tasks.unhide(id);
        TT.tasks.focusTask(id);
      },
      commit: function (options) { return commitDelete(saver, title, options); },
    });
  }

  async function commitDelete(saver, title, options) {
    const keepalive = Boolean(options && options.keepalive);
    if (!keepalive) {
      await (saver.inFlight || Promise.resolve()); // a page going away cannot wait
    }
    saver.cancel(); // nothing more to send for a task being deleted
    const reply = await TT.api.call("DELETE", TT.tasks.url(saver.id), { keepalive: keepalive });
    if (reply.ok || reply.status === 404) {
      saver.forget();
      TT.tasks.remove(saver.id);
    } else if (reply.status !== 401 && !saver.removed) {
      TT.tasks.unhide(saver.id);
      TT.notify("“" + title + "” could not be deleted: " + reply.message, "danger");
    }
  }

  /** Send every waiting edit; with keepalive when the page may be going away. */
  function flushAll(options) {
    return Promise.all(Array.from(savers.values()).map(function (saver) {
      return saver.flush(options);
    }));
  }

  /** Forget everything (logged out): nothing may be sent in the name of the next user. */
  function reset() {
    for (const saver of Array.from(savers.values())) {
      saver.forget();
    }
    if (current) {
      modal().hide();
    }
  }

  function bind() {
    $modal = $("#task-modal");
    $form = $("#task-form");

    $(".task-list").on("click", ".task-open", function () {
      open($(this).closest("[data-task-id]").attr("data-task-id"));
    });

    $("#task-title").on("input", function () {
      const title = $(this).val();
      if (title.trim()) {
        TT.forms.clearField($form, "title");
        current.edit({ title: title });
      } else {
        TT.forms.fieldError($form, "title", "A task needs a title; the last one is kept.");
        current.withdraw("title");
      }
    });
    $("#task-description").on("input", function () {
      current.edit({ description: $(this).val() });
    });
    $("#task-done").on("change", function () {
      current.edit({ status: this.checked ? "done" : "open" }, true);
    });
    $("#task-due-date, #task-due-time").on("change", onDueChange);
    $("#task-reminder").on("change", onReminderChoice);
    $("#task-reminder-custom").on("change", onCustomReminder);
    $form.on("submit", function (event) {
      event.preventDefault(); // Enter in the title: save now rather than after the pause
      current.flush();
    });
    $("#task-delete").on("click", function () {
      deleteTask(current.id);
    });

    $modal.on("shown.bs.modal", function () {
      $("#task-title").trigger("focus");
    });
    $modal.on("hide.bs.modal", function () {
      if (current) {
        current.flush();
      }
    });
    $modal.on("hidden.bs.modal", function () {
      const id = current && current.id;
      current = null;
      // Back to the task that was opened; if it is gone, to the field that adds tasks.
      if (!(id && TT.tasks.focusTask(id)) && !$("#tasks-view").prop("hidden")) {
        $("#new-task-title").trigger("focus");
      }
    });
  }

  // Changes made elsewhere (live.js)

  /**
   * A task as another tab, device or client left it. Older than what this tab has (its
   * own change coming back, say): ignored. In the open dialog, the fields with no edit of
   * this tab waiting follow; the waiting edits stay on top, and are sent against the new
   * version.
   */
  function applyRemote(task) {
    const saver = savers.get(task.id);
    if (!saver || saver.removed) {
      TT.tasks.putNewer(task);
      return;
    }
    if (task.version <= saver.task.version) {
      return;
    }
    saver.task = task;
    saver.etag = etagOf(task);
    TT.tasks.put(saver.shown());
    if (saver === current) {
      follow(saver);
    }
  }

  function setKeepingCaret(selector, value) {
    const field = $(selector)[0];
    if (field.value === value) {
      return;
    }
    const focused = document.activeElement === field;
    const start = field.selectionStart;
    const end = field.selectionEnd;
    field.value = value;
    if (focused) {
      field.setSelectionRange(Math.min(start, value.length), Math.min(end, value.length));
    }
  }

  /** Show in the dialog what changed elsewhere, in every field with no edit waiting. */
  function follow(saver) {
    const shown = saver.shown();
    const waiting = Object.assign({}, saver.sending, saver.pending);
    if (!("title" in waiting)) {
      setKeepingCaret("#task-title", shown.title);
    }
    if (!("description" in waiting)) {
      setKeepingCaret("#task-description", shown.description || "");
    }
    if (!("status" in waiting)) {
      $("#task-done").prop("checked", shown.status === "done");
    }
    if (!("due_date" in waiting || "due_time" in waiting || "reminder_at" in waiting)) {
      fillDue(shown);
    }
    showDates(shown);
  }

  /** A task deleted elsewhere: gone from the list, its dialog closed with a notice. */
  function applyDeleted(id) {
    if (TT.tasks.isHidden(id)) {
      return; // this tab is deleting it (or offers Undo): its own DELETE settles it
    }
    const saver = savers.get(id);
    if (saver && !saver.removed) {
      saver.gone();
    } else {
      TT.tasks.remove(id);
    }
  }

  /** The person's timezone changed: the modal's times are read in the new one. */
  function refreshZone() {
    if (current) {
      fillDue(current.shown());
    }
  }

  TT.editor = {
    bind: bind,
    flushAll: flushAll,
    reset: reset,
    openById: openById,
    setStatus: setStatus,
    deleteTask: deleteTask,
    refreshZone: refreshZone,
    applyRemote: applyRemote,
    applyDeleted: applyDeleted,
  };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
