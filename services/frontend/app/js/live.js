/*
 * live.js: keeps this tab in step with the person's other tabs, devices and API clients.
 *
 * Once logged in, the tab holds one EventSource on GET /api/tasks/events. Its first event,
 * `ready`, says where it starts; the list is loaded after it, so nothing changed in between
 * is missed, and changes that arrive while the list loads are applied once it is loaded.
 * Each change is applied in place: the lists, counts and badges (tasks.js), and the task
 * dialog if that task is open (task_editor.js: the fields not being edited follow; a task
 * deleted elsewhere closes its dialog with a notice). A change this tab made itself comes
 * back too, and is recognised by its version (the tab has it already) and not applied twice.
 *
 * When the connection drops, the browser reconnects by itself and sends the id of the last
 * event it got (Last-Event-ID): the server sends what was missed. When the server refuses
 * (the access token expired, a gateway error), the tab renews the session through the API
 * and opens a new EventSource after a growing pause (1 s doubling to 30 s, with jitter),
 * naming the last id in `?last_event_id=`. Meanwhile the header shows "Reconnecting…".
 * `resync` means too much was missed: the list is loaded again, and so it is when a stream
 * opens without an id to resume from after the list was loaded (it could not open before).
 */
(function (TT, $) {
  "use strict";

  const PATH = "/api/tasks/events";
  const FIRST_PAUSE_MS = 1000;
  const MAX_PAUSE_MS = 30000;
  const READY_WAIT_MS = 3000;

  let source = null;
  let running = false;
  let lastId = null; // the id of the last event received: where a new stream resumes
  let failures = 0; // refusals in a row, for the back-off
  let retryTimer = null;
  let loading = null; // the list being loaded: events wait for it in `waiting`
  let waiting = [];
  let generation = 0; // bumped on stop: what a stopped stream does is ignored
  let listLoaded = false; // the list was loaded once since log-in (streams opened later resume)

  function showState(state) {
    $("#live-state").prop("hidden", state !== "reconnecting");
    $("body").attr("data-live", state);
  }

  function parse(event) {
    try {
      return JSON.parse(event.data);
    } catch (error) {
      return null;
    }
  }

  /** Apply one change to what the page shows (or keep it for after the list loads). */
  function apply(kind, data) {
    if (loading) {
      waiting.push([kind, data]);
      return;
    }
    if (!data || !data.id) {
      return;
    }
    if (kind === "task.deleted") {
      TT.editor.applyDeleted(data.id);
      return;
    }
    TT.editor.applyRemote(data);
  }

  /** Load the whole list again, then what arrived meanwhile; settles like TT.tasks.load. */
  async function reload() {
    const mine = generation;
    waiting = [];
    const load = TT.tasks.load();
    loading = load;
    const failed = await load;
    if (loading === load) {
      loading = null;
    }
    const held = waiting;
    waiting = [];
    if (mine === generation) {
      for (const [kind, data] of held) {
        apply(kind, data);
      }
    }
    return failed;
  }

  function listen(stream, mine, resumed, onReady) {
    function track(handler) {
      return function (event) {
        if (mine !== generation || stream !== source) {
          return;
        }
        if (event.lastEventId) {
          lastId = event.lastEventId;
        }
        handler(event);
      };
    }
    stream.addEventListener("ready", track(function () {
      failures = 0;
      showState("live");
      if (!resumed && listLoaded) {
        reload(); // a stream that could not resume: what changed before it is in the list
      }
      onReady();
    }));
    for (const kind of ["task.created", "task.updated", "task.deleted"]) {
      stream.addEventListener(kind, track(function (event) { apply(kind, parse(event)); }));
    }
    stream.addEventListener("resync", track(function () {
      reload().then(function (failed) {
        if (failed && mine === generation) {
          TT.notify("Your tasks could not be loaded again: " + failed.message, "danger");
        }
      });
    }));
    stream.addEventListener("error", function () {
      if (mine !== generation || stream !== source) {
        return;
      }
      showState("reconnecting");
      if (stream.readyState === EventSource.CLOSED) {
        onReady(); // whoever waits for the first ready waits no longer
        retryLater(mine);
      }
      // Otherwise the browser reconnects by itself, with Last-Event-ID.
    });
  }

  function open(onReady) {
    const url = lastId === null ? PATH : PATH + "?last_event_id=" + encodeURIComponent(lastId);
    source = new EventSource(url);
    listen(source, generation, lastId !== null, onReady);
  }

  /** The server refused the stream: renew the session if need be, then try again. */
  function retryLater(mine) {
    if (source) {
      source.close();
      source = null;
    }
    failures += 1;
    const ceiling = Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * Math.pow(2, failures - 1));
    const pause = ceiling / 2 + Math.random() * ceiling / 2;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(async function () {
      // Renews an expired access cookie; a session that ended logs the tab out instead.
      const reply = await TT.api.call("GET", "/api/user");
      if (mine !== generation || !running) {
        return;
      }
      if (reply.status === 401) {
        return; // tt:session-lost follows
      }
      open(function () {});
    }, pause);
  }

  /**
   * Open the stream and load the list once it is ready (or after a few seconds without
   * it); settles as TT.tasks.load does: the failed Reply, or null.
   */
  function start() {
    stop();
    running = true;
    const mine = generation;
    return new Promise(function (resolve) {
      let settled = false;
      function ready() {
        if (!settled) {
          settled = true;
          resolve();
        }
      }
      open(ready);
      setTimeout(ready, READY_WAIT_MS);
    }).then(function () {
      if (mine !== generation) {
        return null;
      }
      listLoaded = true;
      return reload();
    });
  }

  /** Close the stream (logged out): nothing more is applied. */
  function stop() {
    generation += 1;
    running = false;
    clearTimeout(retryTimer);
    if (source) {
      source.close();
      source = null;
    }
    lastId = null;
    listLoaded = false;
    failures = 0;
    loading = null;
    waiting = [];
    showState("off");
  }

  TT.live = { start: start, stop: stop, reload: reload };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
