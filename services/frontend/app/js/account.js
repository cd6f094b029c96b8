/*
 * account.js: the Register and Log in modals and the Log out button.
 *
 * The forms are real forms (action, method, named fields); their submission is sent with
 * Ajax, and the server's refusal is shown in the form as a server-rendered page would.
 */
(function (TT, $) {
  "use strict";

  function modalOf($form) {
    return window.bootstrap.Modal.getOrCreateInstance($form.closest(".modal")[0]);
  }

  function browserTimezone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (error) {
      return "";
    }
  }

  /** Send the form's fields as JSON to its action; on success, the person is signed in. */
  async function submitAccountForm($form, body) {
    TT.forms.busy($form, true);
    const reply = await TT.api.call("POST", $form.attr("action"), { body: body, anonymous: true });
    TT.forms.busy($form, false);
    if (!reply.ok) {
      TT.forms.showReply($form, reply, { conflictField: "email" });
      return;
    }
    const $modal = $form.closest(".modal");
    $modal.one("hidden.bs.modal", function () {
      $form[0].reset();
      $("#new-task-title").trigger("focus");
    });
    modalOf($form).hide();
    TT.app.signedIn(reply.body);
  }

  function requireFields($form, names) {
    let complete = true;
    for (const name of names) {
      if (!TT.forms.input($form, name).val()) {
        TT.forms.fieldError($form, name, "This field is required.");
        complete = false;
      }
    }
    return complete;
  }

  function onRegister(event) {
    event.preventDefault();
    const $form = $(this);
    TT.forms.clear($form);
    $("#register-timezone").val(browserTimezone());
    let valid = requireFields($form, ["email", "password", "repeat"]);
    if ($("#register-repeat").val() && $("#register-repeat").val() !== $("#register-password").val()) {
      TT.forms.fieldError($form, "repeat", "The two passwords differ; type the same one twice.");
      valid = false;
    }
    if (!valid) {
      $form.find(".is-invalid").first().trigger("focus");
      return;
    }
    submitAccountForm($form, TT.forms.values($form));
  }

  function onLogIn(event) {
    event.preventDefault();
    const $form = $(this);
    TT.forms.clear($form);
    if (!requireFields($form, ["email", "password"])) {
      $form.find(".is-invalid").first().trigger("focus");
      return;
    }
    submitAccountForm($form, TT.forms.values($form));
  }

  async function onLogOut() {
    const $button = $(this).prop("disabled", true);
    await TT.editor.flushAll(); // the last edits belong to the person leaving
    const reply = await TT.api.call("DELETE", "/api/session", { anonymous: true });
    $button.prop("disabled", false);
    if (!reply.ok && reply.status !== 401) {
      TT.notify("Logging out failed: " + reply.message, "danger");
      return;
    }
    TT.app.signedOut();
    $("#visitor-actions .btn-primary").trigger("focus");
  }

  function bind() {
    $("#register-form").on("submit", onRegister);
    $("#login-form").on("submit", onLogIn);
    $("#log-out").on("click", onLogOut);
    $("#register-modal, #login-modal").on("show.bs.modal", function () {
      TT.forms.clear($(this).find("form"));
    });
    $("#register-modal, #login-modal").on("shown.bs.modal", function () {
      $(this).find("input[type=email]").trigger("focus");
    });
    // Typing in a field in error clears its message, as the person is fixing it.
    $("#register-form, #login-form").on("input", ".is-invalid", function () {
      const $input = $(this);
      TT.forms.clearField($input.closest("form"), $input.attr("name") || $input.attr("data-field"));
    });
  }

  TT.account = { bind: bind };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
