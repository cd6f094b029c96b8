/*
 * account.js: the Register and Log in modals, the Log out button, "Forgot your password?"
 * and the form that sets a new password from the mail's link.
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
    valid = checkRepeat($form, $("#register-password"), $("#register-repeat")) && valid;
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

  function checkRepeat($form, $password, $repeat) {
    if ($repeat.val() && $repeat.val() !== $password.val()) {
      TT.forms.fieldError($form, "repeat", "The two passwords differ; type the same one twice.");
      return false;
    }
    return true;
  }

  // Forgot your password?

  function openForgot() {
    const email = $("#login-email").val();
    $("#login-modal").one("hidden.bs.modal", function () {
      $("#forgot-email").val(email);
      window.bootstrap.Modal.getOrCreateInstance($("#forgot-modal")[0]).show();
    });
    window.bootstrap.Modal.getOrCreateInstance($("#login-modal")[0]).hide();
  }

  function showForgotSent(email) {
    $("#forgot-fields").prop("hidden", Boolean(email));
    $("#forgot-submit").prop("hidden", Boolean(email));
    const $sent = $("#forgot-sent").prop("hidden", !email).text("");
    if (email) {
      // Always the same answer: whether the address has an account is nobody's business.
      $sent.text(
        "If " + email + " has an account, a mail with a link to choose a new password is " +
          "on its way. The link works for 30 minutes."
      );
    }
  }

  async function onForgot(event) {
    event.preventDefault();
    const $form = $(this);
    TT.forms.clear($form);
    if (!requireFields($form, ["email"])) {
      $form.find(".is-invalid").first().trigger("focus");
      return;
    }
    const email = String($("#forgot-email").val()).trim();
    TT.forms.busy($form, true);
    const reply = await TT.api.call("POST", $form.attr("action"), {
      body: { email: email },
      anonymous: true,
    });
    TT.forms.busy($form, false);
    if (!reply.ok) {
      TT.forms.showReply($form, reply);
      return;
    }
    showForgotSent(email);
    $form.find("[data-bs-dismiss=modal]").last().trigger("focus");
  }

  // A new password, from the link in the reset mail.

  let resetToken = null;

  function askNewPassword(token) {
    resetToken = token;
    const $form = $("#reset-form");
    $form[0].reset();
    TT.forms.clear($form);
    window.bootstrap.Modal.getOrCreateInstance($("#reset-modal")[0]).show();
  }

  async function onReset(event) {
    event.preventDefault();
    const $form = $(this);
    TT.forms.clear($form);
    let valid = requireFields($form, ["new_password", "repeat"]);
    valid = checkRepeat($form, $("#reset-password"), $("#reset-repeat")) && valid;
    if (!valid) {
      $form.find(".is-invalid").first().trigger("focus");
      return;
    }
    TT.forms.busy($form, true);
    const reply = await TT.api.call("POST", $form.attr("action"), {
      body: { token: resetToken, new_password: $("#reset-password").val() },
      anonymous: true,
    });
    TT.forms.busy($form, false);
    if (!reply.ok) {
      if (reply.status === 400) {
        TT.forms.formError(
          $form,
          TT.forms.sentence(reply.message) +
            " Ask for a new link with “Forgot your password?” in the Log in dialog."
        );
        return;
      }
      TT.forms.showReply($form, reply);
      return;
    }
    resetToken = null;
    $form[0].reset();
    // Every session of the account has ended, this browser's too.
    TT.app.signedOut("Your password has been changed. Log in with your new password.", "success");
    $("#visitor-actions .btn-primary").trigger("focus");
  }

  async function onLogOut() {
    const $button = $(this).prop("disabled", true);
    await TT.undo.commitAll(); // a deletion waiting for its Undo is carried out
    await TT.editor.flushAll(); // the last edits belong to the person leaving
    await TT.settings.flush();
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
    $("#forgot-open").on("click", openForgot);
    $("#forgot-form").on("submit", onForgot);
    $("#reset-form").on("submit", onReset);
    $("#log-out").on("click", onLogOut);
    $("#register-modal, #login-modal, #forgot-modal").on("show.bs.modal", function () {
      TT.forms.clear($(this).find("form"));
    });
    $("#forgot-modal").on("show.bs.modal", function () { showForgotSent(null); });
    $("#register-modal, #login-modal, #forgot-modal").on("shown.bs.modal", function () {
      $(this).find("input[type=email]").trigger("focus");
    });
    $("#reset-modal").on("shown.bs.modal", function () { $("#reset-password").trigger("focus"); });
    // Typing in a field in error clears its message, as the person is fixing it.
    $("#register-form, #login-form, #forgot-form, #reset-form").on("input", ".is-invalid", function () {
      const $input = $(this);
      TT.forms.clearField($input.closest("form"), $input.attr("name") || $input.attr("data-field"));
    });
  }

  TT.account = { bind: bind, askNewPassword: askNewPassword, checkRepeat: checkRepeat };
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
