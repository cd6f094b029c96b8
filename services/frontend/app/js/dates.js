/*
 * dates.js: due dates, times and reminders in the person's timezone, which is the one their
 * account names (GET /api/user), not the browser's: a due date is a calendar day there, a
 * due time a wall-clock time there, and a reminder an instant.
 *
 * Only Intl does the timezone arithmetic. A wall-clock time becomes an instant by trying
 * the zone's offsets a day either side of it: one fits (an ordinary time), two fit (the
 * repeated hour when clocks go back: the earlier is taken) or none (the hour skipped when
 * clocks go forward: the time is read with the offset before the change, which lands it as
 * far after the gap as it was into it, 02:30 becoming 03:30).
 */
(function (TT) {
  "use strict";

  const MINUTE_MS = 60 * 1000;
  const DAY_MS = 24 * 60 * MINUTE_MS;
  const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
  const TIME = /^(\d{2}):(\d{2})$/;
  const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/;

  /** The reminder choices relative to the due date and time, as instants from it. */
  const RELATIVE_REMINDERS = {
    at: function (date, time, zone) { return toInstant(date, time, zone); },
    "10m": function (date, time, zone) { return toInstant(date, time, zone) - 10 * MINUTE_MS; },
    "1h": function (date, time, zone) { return toInstant(date, time, zone) - 60 * MINUTE_MS; },
    // The same time on the day before, which is not 24 hours before across a clock change.
    "1d": function (date, time, zone) { return toInstant(addDays(date, -1), time, zone); },
  };

  const wallClocks = new Map(); // zone -> Intl.DateTimeFormat giving numeric parts

  function wallClockFormat(zone) {
    let format = wallClocks.get(zone);
    if (!format) {
      format = new Intl.DateTimeFormat("en-US", {
        timeZone: zone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
      wallClocks.set(zone, format);
    }
    return format;
  }

  function isZone(zone) {
    if (!zone) {
      return false;
    }
    try {
      wallClockFormat(zone);
      return true;
    } catch (error) {
      return false;
    }
  }

  /** The person's timezone (their account's), or UTC until it is known. */
  function zone() {
    const user = TT.app && TT.app.user();
    return user && isZone(user.timezone) ? user.timezone : "UTC";
  }

  /** The wall clock in `zone` at an instant (milliseconds), as numbers. */
  function wallClock(instant, zone) {
    const parts = {};
    for (const part of wallClockFormat(zone).formatToParts(new Date(instant))) {
      if (part.type !== "literal") {
        parts[part.type] = Number(part.value);
      }
    }
    return parts;
  }

  /** How far the wall clock in `zone` is ahead of UTC at an instant, in milliseconds. */
  function offsetAt(instant, zone) {
    const clock = wallClock(instant, zone);
    const asUtc = Date.UTC(clock.year, clock.month - 1, clock.day, clock.hour, clock.minute, clock.second);
    return asUtc - (instant - (((instant % 1000) + 1000) % 1000));
  }

  function pad(number, width) {
    return String(number).padStart(width || 2, "0");
  }

  /** {year, month, day} of a "YYYY-MM-DD" that names a real day, otherwise null. */
  function parseDate(text) {
    const match = DATE.exec(text || "");
    if (!match) {
      return null;
    }
    const [year, month, day] = match.slice(1).map(Number);
    const check = new Date(Date.UTC(year, month - 1, day));
    check.setUTCFullYear(year); // Date.UTC reads years below 100 as 19xx
    if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) {
      return null;
    }
    return { year: year, month: month, day: day };
  }

  /** {hour, minute} of an "HH:MM", otherwise null. */
  function parseTime(text) {
    const match = TIME.exec(text || "");
    if (!match) {
      return null;
    }
    const hour = Number(match[1]);
    const minute = Number(match[2]);
    return hour < 24 && minute < 60 ? { hour: hour, minute: minute } : null;
  }

  function utcMidnight(date) {
    const moment = new Date(0);
    moment.setUTCFullYear(date.year, date.month - 1, date.day);
    return moment.getTime();
  }

  function formatDay(epochMs) {
    const moment = new Date(epochMs);
    return pad(moment.getUTCFullYear(), 4) + "-" + pad(moment.getUTCMonth() + 1) + "-" +
      pad(moment.getUTCDate());
  }

  /** The day `days` after a "YYYY-MM-DD" (before, when negative). */
  function addDays(text, days) {
    return formatDay(utcMidnight(parseDate(text)) + days * DAY_MS);
  }

  /** Whole days from the day `from` to the day `to` (both "YYYY-MM-DD"). */
  function daysBetween(from, to) {
    return Math.round((utcMidnight(parseDate(to)) - utcMidnight(parseDate(from))) / DAY_MS);
  }

  /** The date and time ("YYYY-MM-DD", "HH:MM") on the wall clock in `zone` at an instant. */
  function dateTimeAt(instant, zone) {
    const clock = wallClock(instant, zone);
    return {
      date: pad(clock.year, 4) + "-" + pad(clock.month) + "-" + pad(clock.day),
      time: pad(clock.hour) + ":" + pad(clock.minute),
    };
  }

  /** Today's date in `zone` ("YYYY-MM-DD"); `now` in milliseconds, the present by default. */
  function today(zone, now) {
    return dateTimeAt(now === undefined ? Date.now() : now, zone).date;
  }

  /** The instant (milliseconds) at which the wall clock in `zone` shows that date and time. */
  function toInstant(dateText, timeText, zone) {
    const date = parseDate(dateText);
    const time = parseTime(timeText || "00:00");
    if (!date || !time) {
      return NaN;
    }
    const local = utcMidnight(date) + (time.hour * 60 + time.minute) * MINUTE_MS;
    const before = offsetAt(local - DAY_MS, zone);
    const after = offsetAt(local + DAY_MS, zone);
    const fitting = [local - before, local - after].filter(function (instant) {
      return instant + offsetAt(instant, zone) === local;
    });
    return fitting.length ? Math.min.apply(null, fitting) : local - before;
  }

  /** "YYYY-MM-DDTHH:MM" (a datetime-local field's value) in `zone` as an instant, or NaN. */
  function localInputToInstant(value, zone) {
    const match = DATE_TIME.exec(value || "");
    return match ? toInstant(match[1], match[2], zone) : NaN;
  }

  /** An instant as a datetime-local field's value on the wall clock in `zone`. */
  function instantToLocalInput(instant, zone) {
    const at = dateTimeAt(instant, zone);
    return at.date + "T" + at.time;
  }

  /** The reminder instant for a relative choice, or NaN without a due date and time. */
  function reminderFor(choice, date, time, zone) {
    const rule = RELATIVE_REMINDERS[choice];
    return rule && date && time ? rule(date, time, zone) : NaN;
  }

  /** Which choice a stored reminder is: "none", one of the relative ones, or "custom". */
  function reminderChoice(task, zone) {
    if (!task.reminder_at) {
      return "none";
    }
    const instant = Date.parse(task.reminder_at);
    for (const choice of Object.keys(RELATIVE_REMINDERS)) {
      if (reminderFor(choice, task.due_date, task.due_time, zone) === instant) {
        return choice;
      }
    }
    return "custom";
  }

  // Shown in the person's language; a date alone is formatted at UTC midnight of that day,
  // where no timezone can move it to another day.
  const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
  const dayFormatWithWeekday = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC",
  });
  const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short", timeZone: "UTC" });

  function formatDate(text, withWeekday) {
    const date = parseDate(text);
    return date ? (withWeekday ? dayFormatWithWeekday : dayFormat).format(utcMidnight(date)) : "";
  }

  function formatTime(text) {
    const time = parseTime(text);
    return time ? timeFormat.format(Date.UTC(2000, 0, 1, time.hour, time.minute)) : "";
  }

  /** An instant as the date and time on the wall clock in `zone`, in the person's language. */
  function formatInstant(instant, zone) {
    const at = dateTimeAt(instant, zone);
    return formatDate(at.date, true) + ", " + formatTime(at.time);
  }

  /**
   * The badge of an open task that has a due date, relative to today in `zone`:
   * {text, overdue, title}, or null without a due date.
   */
  function dueBadge(task, zone, now) {
    if (!parseDate(task.due_date)) {
      return null;
    }
    const days = daysBetween(today(zone, now), task.due_date);
    const time = task.due_time ? formatTime(task.due_time) : "";
    let text;
    if (days < 0) {
      text = "Overdue · " + -days + (days === -1 ? " day" : " days");
    } else if (days === 0) {
      text = time ? "Today · " + time : "Today";
    } else if (days === 1) {
      text = time ? "Tomorrow · " + time : "Tomorrow";
    } else {
      text = formatDate(task.due_date) + (time ? " · " + time : "");
    }
    return {
      text: text,
      overdue: days < 0,
      title: "Due " + formatDate(task.due_date, true) + (time ? ", " + time : ""),
    };
  }

  TT.dates = {
    zone: zone,
    isZone: isZone,
    today: today,
    addDays: addDays,
    daysBetween: daysBetween,
    parseDate: parseDate,
    parseTime: parseTime,
    toInstant: toInstant,
    dateTimeAt: dateTimeAt,
    localInputToInstant: localInputToInstant,
    instantToLocalInput: instantToLocalInput,
    reminderFor: reminderFor,
    reminderChoice: reminderChoice,
    formatDate: formatDate,
    formatTime: formatTime,
    formatInstant: formatInstant,
    dueBadge: dueBadge,
  };
})(window.TaskTracker = window.TaskTracker || {});
