/*
 * forms.js: errors shown where a server-rendered form would put them (next to the field
 * they concern, or at the top of the form), and the page's notice line.
 *
 * Every text that may come from a person or the server is inserted with .text().
 */
(function (TT, $) {
  "use strict";

  /** The inputs of a form that a field name (`name`, or `data-field` if never sent) denotes. */
  function inputsFor($form, field) {
    return $form.find("[name], [data-field]").filter(function () {
      return this.type !== "hidden" && (this.name || this.dataset.field) === field;
    });
  }

  function clear($form) {
    $form.find(".is-invalid").removeClass("is-invalid").removeAttr("aria-invalid");
    $form.find(".invalid-feedback").text("");
    $form.find("[data-form-error]").prop("hidden", true).text("");
  }

  function clearField($form, field) {
    const $input = inputsFor($form, field);
    $input.removeClass("is-invalid").removeAttr("aria-invalid");
    $("#" + $input.attr("id") + "-error").text("");
  }

  /** Show `message` next to the field; false when the form has no such field. */
  function fieldError($form, field, message) {
    const $input = inputsFor($form, field).first();
    if (!$input.length) {
      return false;
    }
    $input.addClass("is-invalid").attr("aria-invalid", "true");
    $("#" + $input.attr("id") + "-error").text(message);
    return true;
  }

  function formError($form, message) {
    $form.find("[data-form-error]").first().text(message).prop("hidden", false);
  }

  function asSentence(text) {
    return /[.!?…]$/.test(text) ? text : text + ".";
  }

  function retryHint(retryAfter) {
    if (!retryAfter) {
      return "";
    }
    let seconds = /^\d+$/.test(retryAfter)
      ? Number(retryAfter)
      : Math.ceil((Date.parse(retryAfter) - Date.now()) / 1000);
    if (!(seconds > 0)) {
      return "";
    }
    if (seconds < 90) {
      return " You can try again in " + seconds + (seconds === 1 ? " second." : " seconds.");
    }
    seconds = Math.ceil(seconds / 60);
    return " You can try again in " + seconds + " minutes.";
  }

  /**
   * Show a refused request's errors: each `errors[].field` next to its field, the rest
   * (and 401, 429, outages) at the top. `conflictField` receives a bare 409's message.
   * Focus moves to the first field in error, or to the form's top message.
   */
  function showReply($form, reply, options) {
    const settings = options || {};
    const body = reply.body || {};
    const errors = Array.isArray(body.errors) ? body.errors : [];
    const unplaced = [];
    let placed = 0;
    for (const error of errors) {
      const message = String(error.message || reply.message);
      if (error.field && fieldError($form, String(error.field), message)) {
        placed += 1;
      } else {
        unplaced.push(message);
      }
    }
    if (!errors.length && reply.status === 409 && settings.conflictField) {
      placed += fieldError($form, settings.conflictField, reply.message) ? 1 : 0;
    }
    if (unplaced.length) {
      formError($form, unplaced.join(" "));
    } else if (!placed) {
      const hint = reply.status === 429 ? retryHint(reply.header("Retry-After")) : "";
      formError($form, hint ? asSentence(reply.message) + hint : reply.message);
    }
    focusFirstError($form);
  }

  function focusFirstError($form) {
    const $invalid = $form.find(".is-invalid").first();
    if ($invalid.length) {
      $invalid.trigger("focus");
      return;
    }
    // The alert is announced by its role; focusing the first field lets the person retry.
    $form.find("input:not([type=hidden]), textarea").first().trigger("focus");
  }

  /** The form's named fields as an object, as its submission would send them. */
  function values($form) {
    const result = {};
    for (const pair of $form.serializeArray()) {
      if (pair.value !== "") {
        result[pair.name] = pair.value;
      }
    }
    return result;
  }

  function busy($form, isBusy) {
    $form.attr("aria-busy", isBusy ? "true" : null);
    $form.find("[type=submit]").prop("disabled", isBusy);
  }

  let noticeTimer = null;

  /** A short message in the page's status line; kind is a Bootstrap alert colour. */
  function notify(message, kind) {
    clearTimeout(noticeTimer);
    const $notice = $("#notice").empty();
    if (!message) {
      return;
    }
    $("<div>").addClass("alert mb-3 alert-" + (kind || "info")).text(message).appendTo($notice);
    if (!kind || kind === "info" || kind === "success") {
      noticeTimer = setTimeout(function () { $notice.empty(); }, 8000);
    }
  }

  TT.forms = {
    input: inputsFor,
    clear: clear,
    clearField: clearField,
    fieldError: fieldError,
    formError: formError,
    showReply: showReply,
    retryHint: retryHint,
    sentence: asSentence,
    values: values,
    busy: busy,
  };
  TT.notify = notify;
})(window.TaskTracker = window.TaskTracker || {}, window.jQuery);
