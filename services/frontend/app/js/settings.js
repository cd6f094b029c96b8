/*
 * settings.js: the Settings modal (timezone, digest and reminders, changing the password,
 * deleting the account) and the banner that asks to confirm the address.
 *
 * The preferences have no Save button, like the task modal: a typed timezone is saved after
 * DEBOUNCE_MS of quiet, a switch at once, one PATCH /api/user at a time, and what is still
 * waiting is sent when the modal closes or the page goes away (fetch keepalive).
 */
(function (TT, $) {
  "use strict";

  const DEBOUNCE_MS = 400;
  const RETRY_MS = 5000;
  const STATES = {
    saved: { text: "All changes saved", className: "text-success" },
    saving: { text: "Saving…", className: "text-body-secondary" },
    error: { text: "Not saved", className: "text-danger" },
  };

  let $modal;
  let $form;
  let zones = new Set();

  function browserTimezone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  /** Every IANA zone the browser knows, for the searchable list. */
  function timezones() {
    let names = [];
    try {
      names = Intl.supportedValuesOf("timeZone");
    } catch (error) {
      names = [];
    }
    return Array.from(new Set(names.concat(["UTC", browserTimezone()]).filter(Boolean))).sort();
  }

  /** The account's preferences; edits wait here until the server has them. */
  const saver = {
    pending: {},
    timer: null,
    inFlight: null,
    problem: "",
    generation: 0, // bumped at logout: late answers belong to the previous person

    edit(fields, immediately) {
      Object.assign(this.pending, fields);
      this.problem = "";
      clearTimeout(this.timer);
      this.timer = immediately ? null : setTimeout(() => this.flush(), DEBOUNCE_MS);
      if (immediately) {
        this.flush();
      }
      this.showState();
    },

    withdraw(field) {
      delete this.pending[field];
      this.showState();
    },

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
    },

    send(keepalive) {
      const fields = this.pending;
      const generation = this.generation;
      this.pending = {};
      const sent = TT.api
        .call("PATCH", "/api/user", { body: fields, keepalive: keepalive })
        .then((reply) => {
          if (generation === this.generation) {
            this.settle(fields, reply);
          }
        });
      const tracked = sent.finally(() => {
        if (this.inFlight === tracked) {
          this.inFlight = null;
        }
        this.showState();
      });
      this.inFlight = tracked;
      this.showState();
      return tracked;
    },

    settle(fields, reply) {
      if (reply.ok && reply.body) {
        TT.app.update(reply.body);
        this.problem = "";
      } else if (reply.status === 0 || reply.status >= 500 || reply.status === 429) {
        // Kept, and sent again shortly (or with the next change).
        this.pending = Object.assign({}, fields, this.pending);
        clearTimeout(this.timer);
        this.timer = setTimeout(() => this.flush(), RETRY_MS);
        this.problem =
          reply.status === 0
            ? "the server cannot be reached; trying again shortly."
            : TT.forms.sentence(reply.message) + " Trying again shortly.";
      } else if (reply.status !== 401) {
        // Refused: the field says why; what the server stores is shown again.
        this.problem = reply.message;
        TT.forms.showReply($form, reply);
        const user = TT.app.user();
        if (user) {
          fillSwitches(user);
        }
      }
    },

    reset() {
      this.generation += 1;
      clearTimeout(this.timer);
      this.timer = null;
      this.pending = {};
      this.problem = "";
      this.showState();
    },

    state() {
      if (this.problem) {
        return "error";
      }
      if (this.inFlight || this.timer || !$.isEmptyObject(this.pending)) {
        return "saving";
      }
      return "saved";
    },

    showState() {
      const name = this.state();
      const state = STATES[name];
      $("#settings-save-state")
        .removeClass("text-success text-body-secondary text-danger")
        .addClass(state.className)
        .attr("data-state", name)
        .text(name === "error" ? state.text + ": " + this.problem : state.text);
    },
  };

  function fillSwitches(user) {
    $("#settings-digest").prop("checked", user.digest_enabled !== false);
    $("#settings-reminders").prop("checked", user.reminders_enabled !== false);
  }

  function showSuggestion(current) {
    const suggested = browserTimezone();
    $("#settings-timezone-suggest")
      .prop("hidden", !suggested || suggested === current || !zones.has(suggested))
      .attr("data-timezone", suggested)
      .text("Use this browser's timezone: " + suggested);
  }

  /** Fill the modal from the account as the server describes it. */
  function fill(user) {
    TT.forms.clear($form);
    $("#settings-timezone").val(user.timezone || "");
    fillSwitches(user);
    showSuggestion(user.timezone);
    saver.showState();
  }

  let touched = false; // changed by the person since the modal opened
  let open = false;

  /** The account as it is now: another device may have changed it since this page loaded. */
  async function reload() {
    touched = false;
    const reply = await TT.api.call("GET", "/api/user");
    if (!reply.ok || !reply.body || touched || !open) {
      return;
    }
    TT.app.update(reply.body);
    if ($.isEmptyObject(saver.pending) && !saver.inFlight) {
      fill(reply.body);
    }
  }

  function onTimezone() {
    const value = String($("#settings-timezone").val()).trim();
    TT.forms.clearField($form, "timezone");
    if (zones.has(value)) {
      saver.edit({ timezone: value });
      showSuggestion(value);
    } else {
      saver.withdraw("timezone"); // a name half typed is never sent
    }
  }

  /** Leaving the field with a name that is not a zone: say so, keep the stored one. */
  function onTimezoneLeft() {
    const value = String($("#settings-timezone").val()).trim();
    if (value && !zones.has(value)) {
      TT.forms.fieldError(
        $form,
        "timezone",
        "Choose a timezone from the list, such as Europe/Berlin; the last one is kept."
      );
    }
  }

  function useSuggestion() {
    const zone = $(this).attr("data-timezone");
    $("#settings-timezone").val(zone);
    TT.forms.clearField($form, "timezone");
    saver.edit({ timezone: zone }, true);
    showSuggestion(zone);
    $("#settings-timezone").trigger("focus");
  }

  // Changing the password

  async function onChangePassword(event) {
    event.preventDefault();
    const $passwordForm = $(this);
    TT.forms.clear($passwordForm);
    $("#password-done").prop("hidden", true).text("");
    let valid = true;
    for (const name of ["current_password", "new_password", "repeat"]) {
      if (!TT.forms.input($passwordForm, name).val()) {
        TT.forms.fieldError($passwordForm, name, "This field is required.");
        valid = false;
      }
    }
    valid = TT.account.checkRepeat($passwordForm, $("#password-new"), $("#password-repeat")) && valid;
    if (!valid) {
      $passwordForm.find(".is-invalid").first().trigger("focus");
      return;
    }
    TT.forms.busy($passwordForm, true);
    const reply = await TT.api.call("PUT", "/api/user/password", {
      body: {
        current_password: $("#password-current").val(),
        new_password: $("#password-new").val(),
      },
    });
    TT.forms.busy($passwordForm, false);
    if (reply.status === 401) {
      return; // the session ended; main.js shows the visitor's page
    }
    if (!reply.ok) {
      if (reply.status === 403) {
        TT.forms.fieldError($passwordForm, "current_password", reply.message);
        $("#password-current").trigger("focus");
        return;
      }
      TT.forms.showReply($passwordForm, reply);
      return;
    }
    $passwordForm[0].reset();
    $("#password-done")
      .text("Your password has been changed. You stay logged in here; your other devices are logged out.")
      .prop("hidden", false);
  }

  // Deleting the account

  function showDeleteForm(shown) {
    const $deleteForm = $("#delete-form");
    $deleteForm.prop("hidden", !shown);
    $("#delete-open").prop("hidden", shown).attr("aria-expanded", String(shown));
    if (shown) {
      $("#delete-password").trigger("focus");
    } else {
      $deleteForm[0].reset();
      TT.forms.clear($deleteForm);
    }
  }

  async function onDelete(event) {
    event.preventDefault();
    const $deleteForm = $(this);
    TT.forms.clear($deleteForm);
    if (!$("#delete-password").val()) {
      TT.forms.fieldError($deleteForm, "password", "Type your password to confirm.");
      $("#delete-password").trigger("focus");
      return;
    }
    TT.forms.busy($deleteForm, true);
    await TT.editor.flushAll();
    const reply = await TT.api.call("DELETE", "/api/user", {
      body: { password: $("#delete-password").val() },
    });
    TT.forms.busy($deleteForm, false);
    if (reply.status === 401) {
      return;
    }
    if (!reply.ok) {
      if (reply.status === 403) {
        TT.forms.fieldError($deleteForm, "password", reply.message);
        $("#delete-password").trigger("focus");
        return;
      }
      TT.forms.showReply($deleteForm, reply);
      return;
    }
    TT.app.signedOut("Your account and all its tasks have been deleted. Goodbye!", "info");
    $("#visitor-actions .btn-outline-primary").trigger("focus");
  }

  // The banner: the address is not confirmed yet.

  async function onResend() {
    const $button = $(this).prop("disabled", true);
    const $status = $("#verify-status").removeClass("text-danger text-success").text("Sending…");
    const reply = await TT.api.call("POST", "/api/user/verification-mail");
    $button.prop("disabled", false);
    const user = TT.app.user();
    if (reply.ok) {
      $status.addClass("text-success").text(
        "A new link is on its way to " + (user ? user.email : "your address") + "."
      );
    } else if (reply.status === 429) {
      const wait = TT.forms.retryHint(reply.header("Retry-After"));
      $status.text(
        "We sent you a link a short while ago; please look for it first." +
          (wait ? wait.replace("You can try again", " You can ask for another") : "")
      );
    } else if (reply.status === 409) {
      // Confirmed meanwhile (in another tab, or on another device).
      const fresh = await TT.api.call("GET", "/api/user");
      if (fresh.ok && fresh.body) {
        TT.app.update(fresh.body);
      }
      TT.notify(reply.message, "info");
    } else if (reply.status !== 401) {
      $status.addClass("text-danger").text("No new link was sent: " + reply.message);
    }
  }

  /** Show the account's state: the banner, and the modal's fields when it is open. */
  function show(user) {
    const unconfirmed = user.email_verified === false;
    const $banner = $("#verify-banner");
    if ($banner.prop("hidden") && unconfirmed) {
      $("#verify-status").text("");
    }
    $("#verify-address").text(user.email);
    $banner.prop("hidden", !unconfirmed);
    if (open && $.isEmptyObject(saver.pending) && !saver.inFlight) {
      fillSwitches(user);
    }
  }

  function flush(options) {
    return saver.flush(options);
  }

  /** Logged out: forget what waits and every typed password. */
  function reset() {
    saver.reset();
    $("#password-form")[0].reset();
    TT.forms.clear($("#password-form"));
    $("#password-done").prop("hidden", true).text("");
    showDeleteForm(false);
    $("#verify-banner").prop("hidden", true);
  }

  function bind() {
    $modal = $("#settings-modal");
    $form = $("#preferences-form");
    const names = timezones();
    zones = new Set(names);
    $("#timezone-options").append(names.map(function (name) {
      return $("<option>").attr("value", name);
    }));

    $modal.on("show.bs.modal", function () {
      open = true;
      const user = TT.app.user();
      if (user) {
        fill(user);
      }
      reload();
      $("#password-done").prop("hidden", true).text("");
      TT.forms.clear($("#password-form"));
      showDeleteForm(false);
    });
    $modal.on("shown.bs.modal", function () { $("#settings-timezone").trigger("focus"); });
    $modal.on("hide.bs.modal", function () { saver.flush(); });
    $modal.on("hidden.bs.modal", function () {
      open = false;
      $("#password-form")[0].reset();
      showDeleteForm(false);
    });

    $form.on("input change", function () { touched = true; });
    $("#settings-timezone").on("input", onTimezone).on("change blur", onTimezoneLeft);
    $("#settings-timezone-suggest").on("click", useSuggestion);
    $("#settings-digest").on("change", function () {
      saver.edit({ digest_enabled: this.checked }, true);
    });
    $("#settings-reminders").on("change", function () {
      saver.edit({ reminders_enabled: this.checked }, true);
    });
    $form.on("submit", function (event) {
      event.preventDefault(); // Enter in the timezone: save now rather than after the pause
      saver.flush();
    });

    $("#password-form").on("submit", onChangePassword);
    $("#delete-open").on("click", function () { showDeleteForm(true); });
    $("#delete-cancel").on("click", function () {
      showDeleteForm(false);
      $("#delete-open").trigger("focus");
    });
    $("#delete-form").on("submit", onDelete);
    $("#password-form, #delete-form").on("input", ".is-invalid", function () {
      const $input = $(this);
      TT.forms.clearField($input.closest("form"), $input.attr("name") || $input.attr("data-field"));
    });

    $("#verify-resend").on("click", onResend);
  }

  TT.settings = { bind: bind, show: show, flush: flush, reset: reset };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
