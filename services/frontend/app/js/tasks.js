/*
 * tasks.js: the person's tasks as the page knows them, the two lists (open and done)
 * that show them, and the form that adds one.
 *
 * A new task appears at once, marked as being added, and becomes a normal task when the
 * server has stored it; a refused one disappears again and the form says why.
 */
(function (TT, $) {
  "use strict";

  const known = new Map(); // task id -> task, as shown
  let provisionalCount = 0;
  // Bumped when the list is emptied (logging out): answers to requests sent before then
  // belong to the previous person and are dropped.
  let generation = 0;

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

  function formatDate(iso) {
    const time = Date.parse(iso);
    return Number.isNaN(time) ? "" : dateFormat.format(new Date(time));
  }

  function url(id) {
    return "/api/tasks/" + encodeURIComponent(id);
  }

  /** Open tasks newest first; done tasks most recently finished first. */
  function compare(a, b) {
    const key = a.status === "done" ? "completed_at" : "created_at";
    const difference = (Date.parse(b[key]) || 0) - (Date.parse(a[key]) || 0);
    return difference || String(a.id).localeCompare(String(b.id));
  }

  function itemFor(task) {
    const $item = $("<li>")
      .addClass("list-group-item task-item")
      .toggleClass("is-done", task.status === "done")
      .attr("data-task-id", task.id);
    const $open = $('<button type="button">')
      .addClass("task-open stretched-link")
      .attr("aria-haspopup", "dialog")
      .text(task.title);
    $item.append($open);
    const preview = (task.description || "").trim().split("\n")[0];
    if (preview) {
      $("<span>").addClass("task-preview").text(preview).appendTo($item);
    }
    if (task.provisional) {
      $open.prop("disabled", true);
      $item.attr("aria-busy", "true");
      $("<span>").addClass("task-meta").text("Adding…").appendTo($item);
    } else if (task.status === "done" && task.completed_at) {
      $("<span>").addClass("task-meta").text("Done " + formatDate(task.completed_at)).appendTo($item);
    }
    return $item;
  }

  function focusedTaskId() {
    return $(document.activeElement).closest("[data-task-id]").attr("data-task-id");
  }

  function focusTask(id) {
    const $button = $(".task-item").filter(function () {
      return this.dataset.taskId === id;
    }).find(".task-open");
    $button.trigger("focus");
    return $button.length > 0;
  }

  function render() {
    const focused = focusedTaskId();
    for (const status of ["open", "done"]) {
      const tasks = Array.from(known.values())
        .filter(function (task) { return task.status === status; })
        .sort(compare);
      $("#" + status + "-tasks").empty().append(tasks.map(itemFor));
      $("#" + status + "-count").text(tasks.length);
      $("#" + status + "-empty").prop("hidden", tasks.length > 0);
    }
    if (focused) {
      focusTask(focused);
    }
  }

  /** Show a task as given (new, or changed); re-sorts only when its list changes. */
  function put(task) {
    const before = known.get(task.id);
    known.set(task.id, task);
    const $item = $(".task-item").filter(function () { return this.dataset.taskId === task.id; });
    if (before && $item.length && before.status === task.status) {
      const hadFocus = $item.find(document.activeElement).length > 0;
      $item.replaceWith(itemFor(task));
      if (hadFocus) {
        focusTask(task.id);
      }
    } else {
      render();
    }
  }

  function remove(id) {
    if (known.delete(id)) {
      render();
    }
  }

  function clear() {
    generation += 1;
    known.clear();
    render();
    const $form = $("#add-task-form");
    $form[0].reset();
    TT.forms.clear($form);
  }

  /** Every task with that status, following the Link header from page to page. */
  async function fetchAll(status) {
    const tasks = [];
    const seen = new Set();
    let next = "/api/tasks?status=" + status;
    while (next && !seen.has(next)) {
      seen.add(next);
      const reply = await TT.api.call("GET", next);
      if (!reply.ok || !Array.isArray(reply.body)) {
        return { reply: reply };
      }
      tasks.push.apply(tasks, reply.body);
      next = TT.api.nextPage(reply);
    }
    return { tasks: tasks };
  }

  /** Load both lists; settles with the failed Reply, or null when all went well. */
  async function load() {
    const startedIn = generation;
    const pages = await Promise.all([fetchAll("open"), fetchAll("done")]);
    if (startedIn !== generation) {
      return null;
    }
    const failed = pages.find(function (result) { return result.reply; });
    if (failed) {
      return failed.reply;
    }
    known.clear();
    for (const task of pages[0].tasks.concat(pages[1].tasks)) {
      known.set(task.id, task);
    }
    render();
    return null;
  }

  /** Add a task, showing it at once; settles with the server's Reply. */
  async function add(title) {
    provisionalCount += 1;
    const provisional = {
      id: "provisional-" + provisionalCount,
      title: title,
      description: "",
      status: "open",
      created_at: new Date().toISOString(),
      provisional: true,
    };
    put(provisional);
    const startedIn = generation;
    const reply = await TT.api.call("POST", "/api/tasks", { body: { title: title } });
    if (startedIn !== generation) {
      return reply;
    }
    known.delete(provisional.id);
    if (reply.ok && reply.body && reply.body.id) {
      known.set(reply.body.id, reply.body);
    }
    render();
    return reply;
  }

  function bindAddForm() {
    const $form = $("#add-task-form");
    const $title = $("#new-task-title");
    $form.on("submit", async function (event) {
      event.preventDefault();
      TT.forms.clear($form);
      const title = $title.val();
      if (!title.trim()) {
        TT.forms.fieldError($form, "title", "Write what the task is, then add it.");
        $title.trigger("focus");
        return;
      }
      $title.val(""); // ready for the next task while this one is stored
      const reply = await add(title);
      if (!reply.ok && reply.status !== 401) {
        if (!$title.val()) {
          $title.val(title);
        }
        TT.forms.showReply($form, reply);
      }
    });
    $title.on("input", function () { TT.forms.clearField($form, "title"); });
  }

  TT.tasks = {
    url: url,
    get: function (id) { return known.get(id); },
    put: put,
    remove: remove,
    clear: clear,
    load: load,
    focusTask: focusTask,
    formatDate: formatDate,
    bindAddForm: bindAddForm,
  };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
