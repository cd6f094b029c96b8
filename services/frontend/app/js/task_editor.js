/*
 * task_editor.js: the task modal, which has no Save button. Each edit is sent by itself:
 * typing after a pause of DEBOUNCE_MS, a click at once, and whatever is still waiting when
 * the modal closes or the page goes away (with fetch keepalive, which outlives the page).
 *
 * Each task being edited has a Saver. It sends one PATCH at a time with If-Match, so its
 * own edits never collide; a 412 means someone else changed the task meanwhile: the task
 * is loaded again and the modal says so.
 */
(function (TT, $) {
  "use strict";

  const DEBOUNCE_MS = 400;
  const RETRY_MS = 5000;

  const savers = new Map(); // task id -> Saver
  let current = null; // the Saver of the task in the modal
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
      const view = Object.assign({}, this.task, this.pending);
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

  function fill(task) {
    TT.forms.clear($form);
    $("#task-title").val(task.title);
    $("#task-description").val(task.description || "");
    $("#task-done").prop("checked", task.status === "done");
    showDates(task);
  }

  function open(id) {
    const task = TT.tasks.get(id);
    if (!task || task.provisional) {
      return;
    }
    current = saverFor(task);
    fill(current.shown());
    showState(current);
    $("#task-delete").prop("disabled", false);
    modal().show();
  }

  async function deleteCurrent() {
    const saver = current;
    const title = saver.shown().title;
    saver.cancel(); // edits to a task being deleted no longer matter
    $("#task-delete").prop("disabled", true);
    await (saver.inFlight || Promise.resolve());
    const reply = await TT.api.call("DELETE", TT.tasks.url(saver.id));
    if (reply.ok || reply.status === 404) {
      saver.forget();
      TT.tasks.remove(saver.id);
      if (saver === current) {
        modal().hide();
      }
      TT.notify("Deleted “" + title + "”.", "success");
    } else if (saver === current) {
      $("#task-delete").prop("disabled", false);
      TT.forms.formError($form, reply.message);
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
    $form.on("submit", function (event) {
      event.preventDefault(); // Enter in the title: save now rather than after the pause
      current.flush();
    });
    $("#task-delete").on("click", deleteCurrent);

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

  TT.editor = { bind: bind, flushAll: flushAll, reset: reset };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
