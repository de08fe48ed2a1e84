// The door kiosk: language, service, party size and priority, then the ticket and its QR.
//
// Big targets and few steps; it prints the ticket by itself and returns to its
// start after a short while, so the next visitor finds it ready. The service
// buttons follow the branch's live feed: waits, and services suspended or resumed.

import { connectLive } from "/static/app/live.js";
import { nt, t } from "/static/app/i18n.js";
import {
  clockTime,
  newIdempotencyKey,
  refusalText,
  requestTicket,
  serviceName,
  waitText,
} from "/static/kiosk/visitor.js";

const RESULT_SECONDS = 20;
const DETAILS_SECONDS = 45;
const LANGUAGE_SECONDS = 90;

const data = JSON.parse(document.getElementById("kiosk-data").textContent);
const $ = (id) => document.getElementById(id);
const steps = { service: $("step-service"), details: $("step-details"), result: $("step-result") };
const services = new Map(data.services.map((s) => [s.letter, s]));
const autoPrint = new URLSearchParams(location.search).get("print") !== "off";

let chosen = null;
let party = 1;
let pendingKey = null;
let idleTimer = null;
let countdownTimer = null;

function show(step) {
  for (const [name, element] of Object.entries(steps)) element.hidden = name !== step;
  window.scrollTo(0, 0);
  armIdle(step);
  const heading = steps[step].querySelector("h1, .result-label");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

// Back to the start, and to the kiosk's own language, when nobody touches it for a while.
function armIdle(step) {
  clearTimeout(idleTimer);
  clearInterval(countdownTimer);
  $("result-return").textContent = "";
  if (step === "result") {
    let left = RESULT_SECONDS;
    const tick = () => {
      $("result-return").textContent = nt(
        "This screen returns to the start in {n} second.",
        "This screen returns to the start in {n} seconds.",
        left,
      );
      left -= 1;
      if (left < 0) restart();
    };
    tick();
    countdownTimer = setInterval(tick, 1000);
  } else if (step === "details") {
    idleTimer = setTimeout(restart, DETAILS_SECONDS * 1000);
  } else if (data.lang !== data.home_lang) {
    idleTimer = setTimeout(restart, LANGUAGE_SECONDS * 1000);
  }
}

function restart() {
  clearTimeout(idleTimer);
  clearInterval(countdownTimer);
  if (data.lang !== data.home_lang) {
    const home = new URL(location.href);
    home.searchParams.delete("lang");
    location.replace(home);
    return;
  }
  chosen = null;
  pendingKey = null;
  show("service");
}

for (const event of ["pointerdown", "keydown"]) {
  document.addEventListener(event, () => {
    const current = Object.keys(steps).find((name) => !steps[name].hidden);
    if (current) armIdle(current);
  });
}

// Step 1: the service ------------------------------------------------------

function renderService(service) {
  const card = document.querySelector(`.service[data-letter="${service.letter}"]`);
  if (!card) return;
  const suspended = service.suspended;
  card.classList.toggle("is-suspended", Boolean(suspended));
  card.querySelector(".service-pick").disabled = Boolean(suspended);
  // No open counter serves it: the tile says so instead of a wait nobody can know.
  card.classList.toggle("is-unserved", !service.served);
  const wait = card.querySelector(".service-wait");
  const minutes = service.estimated_wait_minutes;
  const waiting = nt("{n} waiting", "{n} waiting", service.waiting);
  const estimate = minutes === 0 ? t("less than a minute") : t("about {n} min", { n: minutes });
  wait.textContent = service.served ? `${waiting} · ${estimate}` : waiting;
  if (suspended) {
    card.querySelector(".suspended-reason").textContent = serviceName(suspended.reason, data.lang);
    card.querySelector(".suspended-online").classList.toggle("hidden", !suspended.online_url);
    card.querySelector(".online-url").textContent = suspended.online_url || "";
  }
}

for (const card of document.querySelectorAll(".service")) {
  card.querySelector(".service-pick").addEventListener("click", () => {
    const service = services.get(card.dataset.letter);
    if (!service || service.suspended) return;
    chosen = service;
    party = 1;
    pendingKey = null;
    $("priority").checked = false;
    $("issue-error").classList.add("hidden");
    $("details-title").textContent = serviceName(service.names, data.lang);
    renderUnserved();
    renderParty();
    show("details");
  });
}
data.services.forEach(renderService);

function onLive(message) {
  if (!message.snapshot) return;
  const letters = message.snapshot.services.map((s) => s.letter).join();
  if (letters !== data.services.map((s) => s.letter).join() && !steps.service.hidden) {
    location.reload(); // services were added or removed: render them anew
    return;
  }
  for (const live of message.snapshot.services) {
    const service = services.get(live.letter);
    if (!service) continue;
    Object.assign(service, {
      names: live.names,
      waiting: live.waiting,
      estimated_wait_minutes: live.estimated_wait_minutes,
      served: live.served,
      suspended: live.suspended,
    });
    renderService(service);
  }
  renderUnserved();
}

connectLive(`/api/v1/branches/${encodeURIComponent(data.branch)}/live`, {
  resume: true,
  onMessage: onLive,
  onStatus: (status) => $("offline").classList.toggle("hidden", status === "online"),
});

// Step 2: party size and priority ------------------------------------------

// Before the ticket, not after: the visitor may prefer to come back when a counter is open.
function renderUnserved() {
  $("details-unserved").hidden = !chosen || chosen.served;
}

const partyButtons = [...document.querySelectorAll(".party-size")];

function renderParty() {
  for (const button of partyButtons) {
    button.setAttribute("aria-pressed", String(Number(button.dataset.size) === party));
  }
  pendingKey = null; // a different request needs a different key
}

for (const button of partyButtons) {
  button.addEventListener("click", () => {
    party = Number(button.dataset.size);
    renderParty();
  });
}

$("priority").addEventListener("change", () => {
  pendingKey = null;
});
$("back").addEventListener("click", restart);

$("issue").addEventListener("click", async () => {
  if (!chosen) return;
  const button = $("issue");
  button.disabled = true;
  $("issue-error").classList.add("hidden");
  // The same key until the request changes: pressing again after a lost answer
  // returns the ticket already made instead of a second one.
  pendingKey = pendingKey || newIdempotencyKey();
  const result = await requestTicket(
    data.branch,
    {
      service: chosen.letter,
      party_size: party,
      priority: $("priority").checked,
      lang: data.lang,
      via: "kiosk",
    },
    pendingKey,
  );
  button.disabled = false;
  if (!result.ok) {
    $("issue-error").textContent = refusalText(result);
    $("issue-error").classList.remove("hidden");
    return;
  }
  pendingKey = null;
  showTicket(result.body);
});

// Step 3: the ticket ---------------------------------------------------------

function showTicket(ticket) {
  $("result-number").textContent = ticket.number;
  $("result-service").textContent = serviceName(services.get(ticket.service)?.names || {}, data.lang) || ticket.service_name;
  $("result-time").textContent = t("Issued at {time}", {
    time: clockTime(ticket.issued_at, data.lang, data.timezone),
  });
  $("result-wait").textContent = `${t("Estimated wait")}: ${waitText(ticket.estimated_wait_minutes, ticket.served)}`;
  const qr = $("result-qr");
  qr.dataset.page = ticket.links.page;
  if (autoPrint) {
    qr.addEventListener("load", () => window.print(), { once: true });
  }
  qr.src = ticket.links.qr;
  show("result");
}

$("print").addEventListener("click", () => window.print());
$("done").addEventListener("click", restart);
