// The visitor's ticket page: follows the ticket's live feed and tells the visitor what to do.
//
// No polling: the feed sends the ticket's view first and on every change, and
// reconnects by itself (at once when a sleeping phone wakes). Countdowns run
// on the server's clock, corrected by the offset measured when the page loaded.

import { connectLive } from "/static/app/live.js";
import { nt, t } from "/static/app/i18n.js";
import { playTones } from "/static/app/sound.js";
import { serviceName, waitText } from "/static/kiosk/visitor.js";

const ALMOST = 3;

const data = JSON.parse(document.getElementById("ticket-data").textContent);
const $ = (id) => document.getElementById(id);
const clockOffset = data.server_now - Date.now() / 1000;
const token = encodeURIComponent(data.token);

let ticket = data.ticket;
let countdown = null;
let audio = null;
let wasAlmost = isAlmost(ticket);

function isAlmost(view) {
  return view.status === "waiting" && view.position !== null && view.position <= ALMOST;
}

function serverNow() {
  return Date.now() / 1000 + clockOffset;
}

const TITLES = {
  waiting: () => t("Please wait"),
  admitted: () => t("Please enter now"),
  called: (view) => t("Go to counter {counter}", { counter: view.counter }),
  serving: (view) => t("You are being served at counter {counter}", { counter: view.counter }),
  done: () => t("Thank you for your visit"),
  cancelled: () => t("This ticket is cancelled"),
  no_show: () => t("You missed your turn"),
};

const DETAILS = {
  waiting: () => t("You are in the queue. We will tell you here when you may come in."),
  admitted: () => t("It is your turn to come in. Please go inside; you will be called to a counter."),
  called: () => t("Please go to the counter now and show your number."),
  serving: () => "",
  done: () => "",
  cancelled: () => t("If you still need help, take a new ticket."),
  no_show: () => t("If you still need help, take a new ticket."),
};

function render(view) {
  const status = view.status;
  const title = (TITLES[status] || (() => status))(view);
  $("status").className = `status status-${status}`;
  $("status-title").textContent = title;
  $("status-detail").textContent = (DETAILS[status] || (() => ""))(view);
  $("number").textContent = view.number;
  $("service").textContent = serviceName(data.service_names[view.service] || {}, data.lang) || view.service_name;
  document.title = `${view.number} · ${title}`;

  const queued = view.position !== null;
  $("facts").classList.toggle("hidden", !queued);
  if (queued) {
    $("position").textContent =
      view.position === 1 ? t("You are next") : nt("{n} person ahead of you", "{n} people ahead of you", view.position - 1);
    $("wait").textContent = waitText(view.estimated_wait_minutes, view.served);
  }

  const almost = isAlmost(view);
  $("almost").classList.toggle("hidden", !almost);
  if (almost) $("almost").textContent = t("Almost your turn! Please stay close to the entrance.");

  $("delay").classList.toggle("hidden", !view.can_delay || !data.today);
  $("cancel").classList.toggle("hidden", !view.can_cancel || !data.today);
  runCountdown(view);
}

function runCountdown(view) {
  clearInterval(countdown);
  const element = $("countdown");
  if (!view.grace_deadline) {
    element.classList.add("hidden");
    return;
  }
  element.classList.remove("hidden");
  const tick = () => {
    const left = Math.max(0, Math.round(view.grace_deadline - serverNow()));
    if (left === 0) {
      element.textContent = t("Please hurry, your time is up.");
      clearInterval(countdown);
      return;
    }
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    element.textContent = t("Time left: {time}", { time: `${minutes}:${seconds}` });
  };
  tick();
  countdown = setInterval(tick, 1000);
}

// Alerts: a vibration and a short beep when something changes for the visitor.
function alertVisitor(pattern) {
  if (navigator.vibrate) navigator.vibrate(pattern);
  if (audio && audio.state === "running") {
    const notes = [
      [880, 0],
      [1175, 0.25],
    ];
    playTones(audio, audio.currentTime, notes, { attack: 0.02, fade: 0.22, stop: 0.25 });
  }
}

// Browsers allow sound (and vibration) only after the visitor touched the page: the
// first touch anywhere turns sound on, and the button says so or does it.
async function enableSound() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return false;
  audio = audio || new Context();
  await audio.resume();
  $("sound").setAttribute("aria-pressed", "true");
  $("sound").textContent = t("Sound alerts are on");
  return true;
}

document.addEventListener("pointerdown", enableSound, { once: true });
$("sound").addEventListener("click", async () => {
  if (await enableSound()) alertVisitor([80]);
});

function update(view) {
  const before = ticket;
  ticket = view;
  render(view);
  const almost = isAlmost(view);
  if (before.status !== view.status || before.counter !== view.counter) {
    alertVisitor([300, 150, 300, 150, 300]);
  } else if (almost && !wasAlmost) {
    alertVisitor([200, 100, 200]);
  }
  wasAlmost = almost;
}

function say(text) {
  $("message").textContent = text;
  $("message").classList.toggle("hidden", !text);
}

async function act(method, path) {
  say("");
  try {
    const response = await fetch(path, { method, credentials: "same-origin" });
    const body = await response.json();
    if (response.ok) {
      update(body);
      return true;
    }
    say(body.error && body.error.code === "ticket_expired" ? t("This ticket was for an earlier day.") : t("Sorry, that did not work. Please try again."));
  } catch {
    say(t("No connection to the server. Please try again."));
  }
  return false;
}

$("delay").addEventListener("click", async () => {
  $("delay").disabled = true;
  if (await act("POST", `/api/v1/tickets/${token}/delay`)) {
    say(t("Done: you have a little more time. Your place moved a few places back."));
  }
  $("delay").disabled = false;
});

const dialog = $("confirm-cancel");
$("cancel").addEventListener("click", () => dialog.showModal());
$("keep").addEventListener("click", () => dialog.close());
$("confirm").addEventListener("click", async () => {
  dialog.close();
  await act("DELETE", `/api/v1/tickets/${token}`);
});

render(ticket);

if (data.today) {
  connectLive(`/api/v1/tickets/${token}/live`, {
    onMessage: (message) => {
      if (message.type === "ticket") update(message.ticket);
    },
    onStatus: (status) => {
      $("offline").classList.toggle("hidden", status !== "offline");
      if (status === "gone") say(t("This ticket is no longer active."));
    },
  });
} else {
  say(t("This ticket was for an earlier day."));
}
