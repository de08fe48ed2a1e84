// Pieces every console shares: building elements, times in the branch's zone,
// readable API errors, the live-status light, and coalesced re-reads.

import { t, nt, lang } from "/static/app/i18n.js";

export const data = JSON.parse(document.getElementById("console-data").textContent);

export const $ = (id) => document.getElementById(id);

// An element with a class and text (never HTML: names and labels come from people).
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// A service's name in the page's language, else English, else any.
export function serviceName(service) {
  if (!service) return "";
  const names = service.names || {};
  return names[lang] || names.en || Object.values(names)[0] || service.letter;
}

// "09:14" (or "09:14:03") in the branch's time zone, from UTC epoch seconds.
export function clock(at, timezone, seconds = false) {
  if (at === null || at === undefined) return "";
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  if (timezone) options.timeZone = timezone;
  return new Intl.DateTimeFormat(lang, options).format(new Date(at * 1000));
}

// A short duration: "45 s", "12 min", "1 h 05 min".
export function duration(totalSeconds) {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  if (seconds < 60) return t("{n} s", { n: seconds });
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return t("{n} min", { n: minutes });
  const hours = Math.floor(minutes / 60);
  return t("{h} h {m} min", { h: hours, m: String(minutes % 60).padStart(2, "0") });
}

// "2:05": a countdown's minutes and seconds.
export function countdown(totalSeconds) {
  const seconds = Math.max(0, Math.ceil(totalSeconds));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

// The server's clock, from the `now` of its last answer: timers on screen follow it, not the PC's.
let clockOffset = 0;
export function syncClock(serverNow) {
  if (typeof serverNow === "number") clockOffset = serverNow - Date.now() / 1000;
}
export function serverNow() {
  return Date.now() / 1000 + clockOffset;
}

// What went wrong, in words for the person at the screen.
const MESSAGES = {
  counter_busy: (e) => t("Finish ticket {ticket} first.", { ticket: e.ticket || "" }),
  counter_not_open: () => t("Open the counter first."),
  nobody_to_call: () => t("Nobody inside is waiting for this counter."),
  unexpected_ticket: (e) =>
    e.current
      ? t("The counter now holds {ticket}; the screen has been updated.", { ticket: e.current })
      : t("The counter holds no ticket any more; the screen has been updated."),
  being_served: () => t("This visitor is already being served."),
  same_service: () => t("The ticket is already for that service."),
  unknown_ticket: () => t("There is no such ticket today."),
  unknown_counter: () => t("There is no such counter any more. Choose another one."),
  unknown_service: () => t("There is no such service."),
  not_admitted: () => t("This ticket may not enter now."),
  adjustment_below_zero: () => t("There are not that many people without a ticket inside."),
  invalid_delta: () => t("Choose between 1 and 50 people."),
  invalid_reason: () => t("Give a reason."),
  invalid_config: () => t("The settings have problems; see the marked fields."),
  counter_in_use: () => t("A counter you removed still has a visitor. Finish the ticket first."),
  service_in_use: () => t("Tickets still wait for a service you removed."),
  csrf_failed: () => t("This page has expired. Reload it and try again."),
  forbidden: () => t("You may not do this."),
  unavailable: () => t("The server is busy. Try again in a moment."),
  user_exists: () => t("There is already an account with this name."),
  weak_password: () => t("A password has at least 8 characters."),
  invalid_username: () => t("A username is letters, digits, '.', '_', '@' or '-'."),
  own_account: () => t("Ask another manager to change your own account."),
  unknown_device: () => t("There is no such device."),
};

// The message of a failed API answer (a Response), or of a network failure (an Error).
export async function problemOf(failure) {
  if (!(failure instanceof Response)) return { code: "network", message: t("No connection to the server. Try again.") };
  let error = {};
  try {
    error = (await failure.json()).error || {};
  } catch {
    error = {};
  }
  const known = MESSAGES[error.code];
  return {
    code: error.code || String(failure.status),
    message: known ? known(error) : error.message || t("Something went wrong ({status}).", { status: failure.status }),
    problems: error.problems || [],
  };
}

// The live-feed light in the console bar, and the banner when it goes out.
export function showLive(status) {
  const online = status === "online";
  document.body.classList.toggle("offline", !online);
  document.body.dataset.status = status;
  const text = $("live-text");
  if (text) text.textContent = online ? t("Live") : t("Offline");
  const banner = $("offline");
  if (banner) banner.classList.toggle("hidden", online);
}

// Runs `work` now, and once more after it if asked again meanwhile: never two at once,
// never an answer older than the last request left on screen.
export function coalesce(work) {
  let running = false;
  let again = false;
  async function run() {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await work();
      } while (again);
    } finally {
      running = false;
    }
  }
  return run;
}

// A short-lived note in the corner ("Saved").
let toastTimer = null;
export function toast(text) {
  const node = $("toast");
  if (!node) return;
  node.textContent = text;
  node.classList.remove("hidden");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.classList.add("hidden"), 4000);
}

export function remember(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* private mode: the console simply forgets */
  }
}

export function recall(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

export { t, nt, lang };
