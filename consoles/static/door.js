// The door console: who may enter (confirmed one by one as they come in), the
// occupancy against the limit, and people without a ticket counted in or out
// with a reason, which the audit trail keeps.

import { apiFetch } from "/static/app/session.js";
import { connectLive } from "/static/app/live.js";
import {
  $, el, clear, data, t, nt, clock, problemOf, showLive, remember, recall, toast, serverNow,
} from "/static/consoles/common.js";

const STORE_KEY = "queueapp.door-console";
const MAX_AMOUNT = 50;
const KEEP_CONFIRMED = 8;

const branches = data.branches;
let branch = null;
let snapshot = null;
let live = null;
let busy = false;

function start() {
  const saved = recall(STORE_KEY) || {};
  branch = branches.find((b) => b.id === saved.branch) || branches[0];
  const select = $("branch");
  for (const item of branches) {
    const option = el("option", null, item.name);
    option.value = item.id;
    option.selected = item.id === branch.id;
    select.append(option);
  }
  select.disabled = branches.length < 2;
  select.addEventListener("change", () => {
    branch = branches.find((b) => b.id === select.value);
    clear($("confirmed"));
    $("confirmed-title").classList.add("hidden");
    connect();
  });
  $("fewer").addEventListener("click", () => step(-1));
  $("more").addEventListener("click", () => step(1));
  $("amount").addEventListener("input", labels);
  $("reason").addEventListener("input", () => say(""));
  $("adjust").addEventListener("submit", adjust);
  $("confirm-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const number = $("number").value.trim().toUpperCase();
    if (number) confirmEntry(number);
  });
  labels();
  connect();
}

function connect() {
  remember(STORE_KEY, { branch: branch.id });
  snapshot = null;
  render();
  if (live) live.close();
  live = connectLive(`/api/v1/branches/${encodeURIComponent(branch.id)}/live`, {
    resume: true,
    onStatus: showLive,
    onMessage: (message) => {
      if (!message.snapshot) return;
      snapshot = message.snapshot;
      render();
    },
  });
}

function amount() {
  const value = Math.round(Number($("amount").value));
  return Number.isFinite(value) ? Math.min(MAX_AMOUNT, Math.max(1, value)) : 1;
}

function step(by) {
  $("amount").value = String(Math.min(MAX_AMOUNT, Math.max(1, amount() + by)));
  labels();
}

function labels() {
  const n = amount();
  $("add").textContent = nt("Count {n} person in", "Count {n} people in", n);
  $("remove").textContent = nt("Count {n} person out", "Count {n} people out", n);
}

function render() {
  const box = $("occupancy");
  if (!snapshot) {
    $("inside").textContent = "–";
    $("limit").textContent = "–";
    $("signal").textContent = "";
    box.dataset.signal = "";
  } else {
    $("inside").textContent = snapshot.inside;
    $("limit").textContent = snapshot.limit;
    let signal = snapshot.go ? "go" : "wait";
    if (!snapshot.open_now) signal = "closed";
    else if (snapshot.hold) signal = "hold";
    box.dataset.signal = signal;
    $("signal").textContent = {
      go: t("There is room: the next visitors are being let in."),
      wait: t("Full: nobody else may enter now."),
      hold: t("Admissions are on hold."),
      closed: t("The branch is closed now."),
    }[signal];
  }
  const list = clear($("may-enter"));
  const numbers = snapshot ? snapshot.may_enter : [];
  for (const number of numbers) {
    const item = el("li", "enter-item");
    item.dataset.number = number;
    item.append(el("span", "enter-number", number));
    const button = el("button", "enter-confirm", t("Confirm entry"));
    button.type = "button";
    button.disabled = busy;
    button.addEventListener("click", () => confirmEntry(number));
    item.append(button);
    list.append(item);
  }
  $("may-enter-none").classList.toggle("hidden", numbers.length > 0 || !snapshot);
  for (const button of document.querySelectorAll("#adjust button, #confirm-form button")) {
    button.disabled = busy;
  }
}

async function post(path, body) {
  busy = true;
  say("");
  render();
  try {
    const response = await apiFetch(`/api/v1/branches/${encodeURIComponent(branch.id)}/${path}`, {
      method: "POST",
      body,
    });
    if (response.ok) return await response.json();
    say((await problemOf(response)).message);
  } catch (error) {
    say((await problemOf(error)).message);
  } finally {
    busy = false;
    render();
  }
  return null;
}

async function confirmEntry(number) {
  const answer = await post("entries", { ticket: number });
  if (!answer) return;
  $("number").value = "";
  const item = el("li", null, `${clock(serverNow(), branch.timezone)} · ${number}`);
  $("confirmed").prepend(item);
  while ($("confirmed").children.length > KEEP_CONFIRMED) $("confirmed").lastChild.remove();
  $("confirmed-title").classList.remove("hidden");
  toast(t("{number} confirmed inside.", { number }));
}

async function adjust(event) {
  event.preventDefault();
  const sign = Number((event.submitter || $("add")).dataset.sign);
  const reason = $("reason").value.trim();
  if (!reason) {
    say(t("Give a reason."));
    $("reason").focus();
    return;
  }
  const n = amount();
  const answer = await post("occupancy", { delta: sign * n, reason });
  if (!answer) return;
  $("reason").value = "";
  $("amount").value = "1";
  labels();
  toast(sign > 0 ? nt("{n} person counted in.", "{n} people counted in.", n) : nt("{n} person counted out.", "{n} people counted out.", n));
}

function say(text) {
  $("message").textContent = text;
  $("message").classList.toggle("hidden", !text);
}

if (branches.length) start();
