// The counter console: one counter, its visitor, and who waits for it.
//
// The branch feed says when anything changed; the console then reads its
// counter's queue (who waits, since when, the current ticket's times), so a
// call made at another counter or a visitor cancelling shows at once. Every
// command after a call names the ticket on screen, so a double press or a
// stale screen cannot act on another visitor; the server's refusal is shown
// in words and the screen catches up.

import { apiFetch } from "/static/app/session.js";
import { connectLive } from "/static/app/live.js";
import {
  $, el, clear, data, t, nt, clock, duration, countdown, serviceName, problemOf, showLive,
  coalesce, syncClock, serverNow, remember, recall,
} from "/static/consoles/common.js";

const STORE_KEY = "queueapp.counter-console";
const TICKET_COMMANDS = ["recall", "start", "done", "no-show", "transfer"];

const branches = data.branches;
let branch = null; // the chosen branch (its counters and services follow the feed)
let counterId = null;
let snapshot = null; // the branch feed's latest snapshot
let queue = null; // the latest answer of /queue for this counter
let live = null;
let busy = false;

const actions = [...document.querySelectorAll("[data-command]")];

// Choosing the counter ------------------------------------------------------------

function start() {
  const saved = recall(STORE_KEY) || {};
  branch = branches.find((b) => b.id === saved.branch) || branches[0];
  const counters = branch.counters;
  counterId = (counters.find((c) => c.id === saved.counter) || counters[0] || {}).id || null;
  fillBranches();
  fillCounters();
  $("branch").addEventListener("change", (event) => {
    branch = branches.find((b) => b.id === event.target.value);
    counterId = branch.counters.length ? branch.counters[0].id : null;
    event.target.blur();
    chosen(true);
  });
  $("counter").addEventListener("change", (event) => {
    counterId = event.target.value;
    event.target.blur();
    chosen(false);
  });
  for (const button of actions) {
    button.addEventListener("click", () => act(button.dataset.command));
  }
  document.addEventListener("keydown", shortcut);
  $("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
  $("transfer-dialog").addEventListener("keydown", pickByNumber);
  setInterval(tick, 1000);
  chosen(true);
}

function fillBranches() {
  const select = clear($("branch"));
  for (const item of branches) {
    const option = el("option", null, item.name);
    option.value = item.id;
    option.selected = item.id === branch.id;
    select.append(option);
  }
  $("branch").disabled = branches.length < 2;
}

function fillCounters() {
  const select = clear($("counter"));
  for (const counter of branch.counters) {
    const option = el("option", null, counter.name || counter.id);
    option.value = counter.id;
    option.selected = counter.id === counterId;
    select.append(option);
  }
}

function chosen(newBranch) {
  remember(STORE_KEY, { branch: branch.id, counter: counterId });
  fillCounters();
  queue = null;
  say("");
  if (newBranch) {
    snapshot = null;
    if (live) live.close();
    live = connectLive(`/api/v1/branches/${encodeURIComponent(branch.id)}/live`, {
      resume: true,
      onStatus: showLive,
      onMessage: followFeed,
    });
  }
  render();
  refresh();
}

function followFeed(message) {
  if (!message.snapshot) return;
  snapshot = message.snapshot;
  const counters = snapshot.counters.map((c) => ({ id: c.id, name: c.name, services: c.services }));
  const changed = JSON.stringify(counters) !== JSON.stringify(branch.counters);
  branch.counters = counters;
  branch.services = snapshot.services.map((s) => ({ letter: s.letter, names: s.names }));
  if (changed) {
    if (!counters.some((c) => c.id === counterId)) counterId = counters.length ? counters[0].id : null;
    fillCounters();
  }
  render();
  refresh();
}

const refresh = coalesce(async () => {
  if (!counterId) return;
  const asked = { branch: branch.id, counter: counterId };
  let response;
  try {
    response = await apiFetch(
      `/api/v1/branches/${encodeURIComponent(asked.branch)}/queue?counter=${encodeURIComponent(asked.counter)}`,
    );
  } catch {
    return; // offline: the feed's light says so, and the next change reads again
  }
  if (asked.branch !== branch.id || asked.counter !== counterId) return;
  if (!response.ok) {
    say((await problemOf(response)).message);
    return;
  }
  const answer = await response.json();
  if (queue && answer.version < queue.version) return;
  queue = answer;
  syncClock(queue.now);
  render();
});

// What the counter is doing ---------------------------------------------------------

function counterState() {
  const fed = snapshot ? snapshot.counters.find((c) => c.id === counterId) : null;
  if (queue && queue.counter && (!fed || queue.version >= snapshot.version)) return queue.counter;
  return fed || null;
}

function currentTicket(counter) {
  if (!counter || !counter.ticket) return null;
  if (queue && queue.current && queue.current.number === counter.ticket) return queue.current;
  return { number: counter.ticket, status: null };
}

function service(letter) {
  return branch.services.find((s) => s.letter === letter);
}

function render() {
  const counter = counterState();
  const ticket = currentTicket(counter);
  const definition = branch.counters.find((c) => c.id === counterId);
  $("counter-title").textContent = definition ? definition.name || definition.id : t("No counter");
  const status = counter ? counter.status : "";
  const badge = $("counter-status");
  badge.textContent = { open: t("Open"), paused: t("Paused"), closed: t("Closed") }[status] || "";
  badge.dataset.status = status;
  document.body.dataset.counterStatus = status;
  for (const [id, value] of [["open", "open"], ["pause", "paused"], ["close", "closed"]]) {
    $(id).setAttribute("aria-pressed", String(status === value));
  }
  renderCurrent(ticket);
  renderQueue();
  enable(counter, ticket);
  tick();
}

function enable(counter, ticket) {
  const status = counter ? counter.status : null;
  const known = ticket && ticket.status;
  const called = known && ticket.status === "called";
  const serving = known && ticket.status === "serving";
  const inside = queue && queue.counter && queue.counter.id === counterId ? queue.inside : 0;
  const allowed = {
    open: Boolean(counter) && status !== "open",
    pause: Boolean(counter) && status !== "paused",
    close: Boolean(counter) && status !== "closed" && !counter.ticket,
    "call-next": status === "open" && !counter.ticket && inside > 0,
    recall: called,
    start: called,
    done: called || serving,
    "no-show": called,
    transfer: (called || serving) && branch.services.length > 1,
  };
  for (const button of actions) {
    button.disabled = busy || !allowed[button.dataset.command];
  }
  $("hint").textContent = hint(counter, ticket);
}

function hint(counter, ticket) {
  if (!counter) return "";
  if (ticket && ticket.status === "called") return t("Waiting for {number} to come. Press S when they arrive.", { number: ticket.number });
  if (ticket && ticket.status === "serving") return t("Press D when you are done with {number}.", { number: ticket.number });
  if (counter.status === "closed") return t("The counter is closed. Open it to call visitors.");
  if (counter.status === "paused") return t("The counter is paused: nobody is called to it.");
  if (!queue) return "";
  const next = queue.tickets.find((item) => item.status === "admitted");
  if (next) return t("Press N to call {number}.", { number: next.number });
  if (queue.outside > 0) return nt("Nobody inside yet: {n} visitor waits outside to be let in.", "Nobody inside yet: {n} visitors wait outside to be let in.", queue.outside);
  return t("Nobody is waiting for this counter.");
}

const STATES = {
  called: () => t("Called: waiting for the visitor"),
  serving: () => t("Serving"),
};

function renderCurrent(ticket) {
  const box = $("current");
  box.dataset.state = ticket ? ticket.status || "loading" : "none";
  $("current-number").textContent = ticket ? ticket.number : "–";
  const about = ticket && ticket.service ? service(ticket.service) : null;
  const details = [];
  if (about) details.push(`${about.letter} · ${serviceName(about)}`);
  if (ticket && ticket.party_size > 1) details.push(nt("{n} person", "{n} people", ticket.party_size));
  if (ticket && ticket.priority) details.push(t("Priority"));
  if (ticket && ticket.transferred) details.push(t("Transferred"));
  $("current-service").textContent = details.join(" · ");
  $("current-state").textContent = ticket ? (STATES[ticket.status] || (() => ""))() : t("No visitor at this counter.");
}

function renderTimes(ticket, now) {
  const list = clear($("times"));
  if (!ticket || !ticket.status) return;
  const zone = branch.timezone;
  const rows = [
    [t("Ticket taken"), ticket.issued_at],
    [t("Let in"), ticket.admitted_at],
    [t("Called"), ticket.called_at],
    [t("Service started"), ticket.started_at],
  ];
  for (const [label, at] of rows) {
    if (!at) continue;
    const item = el("div");
    item.append(el("dt", null, label), el("dd", null, `${clock(at, zone)} · ${t("{time} ago", { time: duration(now - at) })}`));
    list.append(item);
  }
  if (ticket.called_at) {
    const item = el("div", "times-total");
    item.append(el("dt", null, t("Waited")), el("dd", null, duration(ticket.called_at - ticket.issued_at)));
    list.append(item);
  }
}

function renderQueue() {
  const list = clear($("queue"));
  const items = queue && queue.counter && queue.counter.id === counterId ? queue.tickets : [];
  for (const item of items) {
    const row = el("li", "queue-item");
    row.dataset.number = item.number;
    row.dataset.status = item.status;
    row.append(el("span", "queue-number", item.number));
    const about = service(item.service);
    const middle = el("span", "queue-about");
    middle.append(el("span", "queue-service", about ? `${about.letter} · ${serviceName(about)}` : item.service));
    const flags = [];
    if (item.party_size > 1) flags.push(nt("{n} person", "{n} people", item.party_size));
    if (item.priority) flags.push(t("Priority"));
    if (item.transferred) flags.push(t("Transferred"));
    if (item.requeued) flags.push(t("Returned after a missed call"));
    if (flags.length) middle.append(el("span", "queue-flags", flags.join(" · ")));
    row.append(middle);
    row.append(el("span", `chip chip-${item.status}`, item.status === "admitted" ? t("Inside") : t("Outside")));
    const wait = el("span", "queue-wait");
    wait.dataset.since = item.issued_at;
    row.append(wait);
    list.append(row);
  }
  $("queue-empty").classList.toggle("hidden", items.length > 0 || !queue);
  $("queue-summary").textContent = queue
    ? `${nt("{n} inside", "{n} inside", queue.inside)} · ${nt("{n} outside", "{n} outside", queue.outside)}`
    : "";
}

// Clocks that move by themselves: waiting times, the current visitor's times and grace.
function tick() {
  const now = serverNow();
  for (const wait of document.querySelectorAll(".queue-wait")) {
    wait.textContent = duration(now - Number(wait.dataset.since));
  }
  const ticket = currentTicket(counterState());
  renderTimes(ticket, now);
  const grace = $("current-grace");
  const deadline = ticket && ticket.status === "called" ? ticket.grace_deadline : null;
  grace.classList.toggle("hidden", !deadline);
  if (deadline) {
    grace.textContent =
      deadline > now
        ? t("No-show in {time} if they do not come.", { time: countdown(deadline - now) })
        : t("Their time is up: they will be marked as a no-show.");
  }
}

// Commands ----------------------------------------------------------------------------

async function act(command, extra = {}) {
  if (busy) return;
  const counter = counterState();
  const ticket = currentTicket(counter);
  if (command === "transfer" && !extra.service) {
    openTransfer(ticket);
    return;
  }
  const body = TICKET_COMMANDS.includes(command) ? { ticket: ticket && ticket.number, ...extra } : undefined;
  const path = `/api/v1/branches/${encodeURIComponent(branch.id)}/counters/${encodeURIComponent(counterId)}/${command}`;
  busy = true;
  say("");
  render();
  try {
    const response = await apiFetch(path, { method: "POST", body });
    if (response.ok) {
      adopt(await response.json());
    } else {
      say((await problemOf(response)).message);
    }
  } catch (error) {
    say((await problemOf(error)).message);
  } finally {
    busy = false;
    render();
    refresh();
  }
}

// The command's answer shows at once; the queue read that follows fills in the rest.
function adopt(view) {
  if (!queue || view.version < queue.version || !queue.counter) return;
  queue = {
    ...queue,
    version: view.version,
    counter: { ...queue.counter, status: view.counter.status, ticket: view.counter.ticket },
    current: view.ticket && view.ticket.number === view.counter.ticket ? { ...queue.current, ...view.ticket } : null,
    tickets: queue.tickets.filter((item) => item.number !== view.counter.ticket),
  };
  queue.inside = queue.tickets.filter((item) => item.status === "admitted").length;
}

function say(text) {
  const message = $("message");
  message.textContent = text;
  message.classList.toggle("hidden", !text);
}

function openTransfer(ticket) {
  if (!ticket) return;
  $("transfer-title").textContent = t("Transfer {number} to", { number: ticket.number });
  const box = clear($("transfer-services"));
  const choices = branch.services.filter((item) => item.letter !== ticket.service);
  choices.forEach((item, index) => {
    const button = el("button", "transfer-service secondary");
    button.type = "button";
    button.dataset.choice = String(index + 1);
    button.append(el("kbd", null, index + 1), el("span", null, `${item.letter} · ${serviceName(item)}`));
    button.addEventListener("click", () => {
      $("transfer-dialog").close();
      act("transfer", { service: item.letter });
    });
    box.append(button);
  });
  $("transfer-dialog").showModal();
}

// In the transfer dialog, 1-9 pick a service (not letters: "D" must never mean two things).
function pickByNumber(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  if (event.key === "Escape") {
    event.preventDefault();
    $("transfer-dialog").close();
    return;
  }
  const button = $("transfer-services").querySelector(`[data-choice="${CSS.escape(event.key)}"]`);
  if (button) {
    event.preventDefault();
    button.click();
  }
}

function shortcut(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  if (event.target.closest("input, select, textarea, dialog, [contenteditable]")) return;
  if ($("transfer-dialog").open) return;
  const button = document.querySelector(`[data-key="${CSS.escape(event.key.toLowerCase())}"]`);
  if (!button) return;
  event.preventDefault();
  if (button.disabled) return;
  button.classList.add("pressed");
  setTimeout(() => button.classList.remove("pressed"), 150);
  button.click();
}

if (branches.length) start();
