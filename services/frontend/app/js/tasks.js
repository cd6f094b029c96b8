/*
 * tasks.js: the person's tasks as the page knows them, the two lists (open and done)
 * that show them, and the form that adds one.
 *
 * A new task appears at once, marked as being added, and becomes a normal task when the
 * server has stored it; a refused one disappears again and the form says why.
 *
 * Open tasks are ordered as `GET /api/tasks?sort=due` orders them: those with a due date
 * first, earliest first (so the overdue ones lead), then the undated ones newest first.
 * Each open task with a due date has a badge ("Today", "Tomorrow", "Overdue · 3 days" or
 * the date) relative to today in the person's own timezone, which is checked every minute
 * so that the badges move on at their midnight.
 */
(function (TT, $) {
  "use strict";

  const known = new Map(); // task id -> task, as shown
  const hidden = new Set(); // ids of tasks deleted, waiting for their Undo to pass
  let provisionalCount = 0;
  let shownDay = ""; // today in the person's timezone when the badges were drawn
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

  function newestFirst(a, b, key) {
    const difference = (Date.parse(b[key]) || 0) - (Date.parse(a[key]) || 0);
    return difference || String(a.id).localeCompare(String(b.id));
  }

  /**
   * Open tasks: dated ones by due date (and time, a day's untimed ones after its timed
   * ones), then the undated ones newest first. Done tasks: most recently finished first.
   */
  function compare(a, b) {
    if (a.status === "done") {
      return newestFirst(a, b, "completed_at");
    }
    if (Boolean(a.due_date) !== Boolean(b.due_date)) {
      return a.due_date ? -1 : 1;
    }
    if (a.due_date && a.due_date !== b.due_date) {
      return a.due_date < b.due_date ? -1 : 1;
    }
    if ((a.due_time || "") !== (b.due_time || "")) {
      if (!a.due_time || !b.due_time) {
        return a.due_time ? -1 : 1;
      }
      return a.due_time < b.due_time ? -1 : 1;
    }
    if (a.due_date) {
      return a.id < b.id ? -1 : a.id > b.id ? 1 : 0; // as the server breaks the tie
    }
    return newestFirst(a, b, "created_at");
  }

  function badgeFor(task) {
    const badge = task.status === "open" ? TT.dates.dueBadge(task, TT.dates.zone()) : null;
    if (!badge) {
      return null;
    }
    return $("<span>")
      .addClass("badge due-badge")
      .addClass(badge.overdue ? "text-bg-danger" : "text-bg-light border")
      .attr("title", badge.title)
      .text(badge.text);
  }

  function itemFor(task) {
    const badge = badgeFor(task);
    const $item = $("<li>")
      .addClass("list-group-item task-item")
      .toggleClass("is-done", task.status === "done")
      .toggleClass("is-overdue", Boolean(badge && badge.hasClass("text-bg-danger")))
      .attr("data-task-id", task.id);
    // Above the title's stretched link, so that ticking it does not open the task.
    const $check = $('<input type="checkbox">')
      .addClass("form-check-input task-check")
      .attr("aria-label", "Done: " + task.title)
      .prop("checked", task.status === "done");
    const $body = $("<div>").addClass("task-body");
    const $open = $('<button type="button">')
      .addClass("task-open stretched-link")
      .attr("aria-haspopup", "dialog")
      .text(task.title);
    $body.append($open);
    const preview = (task.description || "").trim().split("\n")[0];
    if (preview) {
      $("<span>").addClass("task-preview").text(preview).appendTo($body);
    }
    if (task.provisional) {
      $open.prop("disabled", true);
      $check.prop("disabled", true);
      $item.attr("aria-busy", "true");
      $("<span>").addClass("task-meta").text("Adding…").appendTo($body);
    } else if (task.status === "done" && task.completed_at) {
      $("<span>").addClass("task-meta").text("Done " + formatDate(task.completed_at)).appendTo($body);
    }
    if (badge) {
      $("<span>").addClass("task-meta").append(badge).appendTo($body);
    }
    return $item.append($check, $body);
  }

  function itemOf(id) {
    return $(".task-item").filter(function () { return this.dataset.taskId === id; });
  }

  /** Which task's control has the focus: {id, control} (a class name), or null. */
  function focused() {
    const $active = $(document.activeElement);
    const id = $active.closest("[data-task-id]").attr("data-task-id");
    if (!id) {
      return null;
    }
    return { id: id, control: $active.hasClass("task-check") ? "task-check" : "task-open" };
  }

  /** Focus a task's title (or `control`); false when the task is not listed. */
  function focusTask(id, control) {
    const $control = itemOf(id).find("." + (control || "task-open"));
    $control.trigger("focus");
    return $control.length > 0;
  }

  function restoreFocus(before) {
    if (before) {
      focusTask(before.id, before.control);
    }
  }

  function render() {
    const before = focused();
    shownDay = TT.dates.today(TT.dates.zone());
    for (const status of ["open", "done"]) {
      const tasks = Array.from(known.values())
        .filter(function (task) { return task.status === status && !hidden.has(task.id); })
        .sort(compare);
      $("#" + status + "-tasks").empty().append(tasks.map(itemFor));
      $("#" + status + "-count").text(tasks.length);
      $("#" + status + "-empty").prop("hidden", tasks.length > 0);
    }
    restoreFocus(before);
  }

  /** Draw the badges again when the day (or the person's timezone) has changed. */
  function refreshDay() {
    if (known.size && TT.dates.today(TT.dates.zone()) !== shownDay) {
      render();
    }
  }

  /** Show a task as given (new, or changed); re-sorts only when its place may change. */
  function put(task) {
    const before = known.get(task.id);
    known.set(task.id, task);
    const $item = itemOf(task.id);
    const samePlace = before && before.status === task.status &&
      before.due_date === task.due_date && before.due_time === task.due_time;
    if (samePlace && $item.length) {
      const had = focused();
      $item.replaceWith(itemFor(task));
      restoreFocus(had && had.id === task.id ? had : null);
    } else {
      render();
    }
  }

  /**
   * Show a task as it was changed elsewhere, unless the page has that version already. A
   * task this tab is adding can come back before the answer to its POST: it takes the place
   * of the provisional task of the same title, rather than showing twice.
   */
  function putNewer(task) {
    const shown = known.get(task.id);
    if (shown && shown.version >= task.version) {
      return;
    }
    if (!shown) {
      for (const [id, other] of known) {
        if (other.provisional && other.title.trim() === task.title) {
          known.delete(id);
          break;
        }
      }
    }
    put(task);
  }

  function remove(id) {
    hidden.delete(id);
    if (known.delete(id)) {
      render();
    }
  }

  /** Take a task out of the lists while its deletion can still be undone. */
  function hide(id) {
    hidden.add(id);
    render();
  }

  function unhide(id) {
    if (hidden.delete(id)) {
      render();
    }
  }

  function clear() {
    generation += 1;
    known.clear();
    hidden.clear();
    render();
    const $form = $("#add-task-form");
    $form[0].reset();
    TT.forms.clear($form);
  }

  /** Every task with that status, following the Link header from page to page. */
  async function fetchAll(status) {
    const tasks = [];
    const seen = new Set();
    let next = "/api/tasks?status=" + status + (status === "open" ? "&sort=due" : "");
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
      const shown = known.get(reply.body.id); // already here if its event came first
      if (!shown || shown.version < reply.body.version) {
        known.set(reply.body.id, reply.body);
      }
    }
    render();
    return reply;
  }

  function bindList() {
    $(".task-list").on("change", ".task-check", function () {
      const id = $(this).closest("[data-task-id]").attr("data-task-id");
      TT.editor.setStatus(id, this.checked ? "done" : "open");
    });
    setInterval(refreshDay, 60 * 1000);
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
    isHidden: function (id) { return hidden.has(id); },
    put: put,
    putNewer: putNewer,
    remove: remove,
    hide: hide,
    unhide: unhide,
    clear: clear,
    load: load,
    refreshDay: refreshDay,
    render: render,
    focusTask: focusTask,
    formatDate: formatDate,
    bindList: bindList,
    bindAddForm: bindAddForm,
  };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
