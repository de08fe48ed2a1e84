// The manager console for one branch: tabs for its settings, its paired screens,
// its accounts and its audit trail. Each tab reads the API the first time it is
// shown; the branch feed keeps the live light on, the capacity preview on the
// counters open now, and the audit trail of today up to date.

import { apiFetch } from "/static/app/session.js";
import { connectLive } from "/static/app/live.js";
import {
  $, el, clear, data, t, nt, clock, problemOf, showLive, coalesce, toast,
} from "/static/consoles/common.js";
import { configForm } from "/static/consoles/config_form.js";

const branch = data.branch;
const api = `/api/v1/branches/${encodeURIComponent(branch.id)}`;
const loaded = new Set();
let today = null;

const settings = configForm({
  branch,
  languages: data.languages,
  onSaved: (config) => {
    $("branch-name").textContent = config.name;
  },
});

// Tabs ------------------------------------------------------------------------------

function show(tab) {
  for (const link of document.querySelectorAll("[data-tab]")) {
    const selected = link.dataset.tab === tab;
    link.setAttribute("aria-selected", String(selected));
    $(`panel-${link.dataset.tab}`).hidden = !selected;
  }
  const address = new URL(location.href);
  address.searchParams.set("tab", tab);
  history.replaceState(null, "", address);
  if (!loaded.has(tab)) {
    loaded.add(tab);
    ({ settings: () => settings.load(), devices: loadDevices, users: loadUsers, audit: () => loadAudit() })[tab]();
  }
}

for (const link of document.querySelectorAll("[data-tab]")) {
  link.addEventListener("click", (event) => {
    event.preventDefault();
    show(link.dataset.tab);
  });
}

function say(id, text) {
  $(id).textContent = text;
  $(id).classList.toggle("hidden", !text);
}

// A button that asks "Sure?" on the first press and acts on the second.
function confirmingButton(label, sure, action) {
  const button = el("button", "secondary small danger", label);
  button.type = "button";
  let armed = null;
  button.addEventListener("click", () => {
    if (armed) {
      clearTimeout(armed);
      armed = null;
      action(button);
      return;
    }
    button.textContent = sure;
    armed = setTimeout(() => {
      armed = null;
      button.textContent = label;
    }, 4000);
  });
  return button;
}

function day(at) {
  if (!at) return "–";
  return new Intl.DateTimeFormat(document.documentElement.lang, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: branch.timezone,
  }).format(new Date(at * 1000));
}

// Devices ---------------------------------------------------------------------------

const KINDS = { kiosk: () => t("Kiosk"), display: () => t("Wall display") };
const DEVICE_STATES = { paired: () => t("Paired"), unpaired: () => t("Waiting to be paired"), revoked: () => t("Revoked") };

async function loadDevices() {
  const response = await apiFetch(`${api}/devices`);
  if (!response.ok) {
    say("device-message", (await problemOf(response)).message);
    return;
  }
  const { devices } = await response.json();
  const body = clear($("devices").querySelector("tbody"));
  for (const device of [...devices].reverse()) {
    const row = el("tr");
    row.dataset.device = device.id;
    row.dataset.state = device.state;
    row.append(
      el("td", null, device.label || "–"),
      el("td", null, (KINDS[device.kind] || (() => device.kind))()),
      el("td", `state state-${device.state}`, (DEVICE_STATES[device.state] || (() => device.state))()),
      el("td", null, day(device.created_at)),
      el("td", null, day(device.paired_at)),
    );
    const actions = el("td", "row-actions");
    if (device.state !== "revoked") {
      actions.append(confirmingButton(t("Revoke"), t("Sure? Revoke"), () => revokeDevice(device)));
    }
    row.append(actions);
    body.append(row);
  }
  $("devices-none").classList.toggle("hidden", devices.length > 0);
}

async function revokeDevice(device) {
  const response = await apiFetch(`${api}/devices/${encodeURIComponent(device.id)}`, { method: "DELETE" });
  if (!response.ok) {
    say("device-message", (await problemOf(response)).message);
    return;
  }
  say("device-message", "");
  toast(t("{label} can no longer be used.", { label: device.label || (KINDS[device.kind] || (() => device.kind))() }));
  loadDevices();
}

$("device-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { kind: $("device-kind").value, label: $("device-label").value.trim() };
  const response = await apiFetch(`${api}/devices`, { method: "POST", body });
  if (!response.ok) {
    say("device-message", (await problemOf(response)).message);
    return;
  }
  const device = await response.json();
  say("device-message", "");
  $("device-label").value = "";
  $("pairing-title").textContent = t("Pairing link for {label}", { label: device.label || KINDS[device.kind]() });
  $("pairing-url").textContent = device.pairing_url;
  $("pairing-url").href = device.pairing_url;
  $("pairing").classList.remove("hidden");
  loadDevices();
});

$("pairing-copy").addEventListener("click", async () => {
  const link = $("pairing-url").textContent;
  try {
    await navigator.clipboard.writeText(link);
    toast(t("Link copied."));
  } catch {
    const range = document.createRange();
    range.selectNodeContents($("pairing-url"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
  }
});

// Accounts --------------------------------------------------------------------------

const ROLES = { staff: () => t("Staff"), manager: () => t("Manager"), admin: () => t("Administrator") };

for (const role of data.roles) {
  const option = el("option", null, ROLES[role]());
  option.value = role;
  $("user-role").append(option);
}

async function loadUsers() {
  const response = await apiFetch("/api/v1/users");
  if (!response.ok) {
    say("user-message", (await problemOf(response)).message);
    return;
  }
  const { users } = await response.json();
  const own = data.user.replace(/^user:/, "");
  const body = clear($("users").querySelector("tbody"));
  for (const user of users) {
    if (user.role !== "admin" && !user.branches.includes(branch.id)) continue;
    const row = el("tr");
    row.dataset.user = user.name;
    row.dataset.state = user.disabled ? "disabled" : "active";
    row.append(
      el("td", "user-name", user.name),
      el("td", null, (ROLES[user.role] || (() => user.role))()),
      el("td", null, user.role === "admin" ? t("all branches") : user.branches.join(", ")),
      el("td", `state state-${user.disabled ? "revoked" : "paired"}`, user.disabled ? t("Disabled") : t("Active")),
    );
    const actions = el("td", "row-actions");
    if (user.name === own) {
      actions.append(el("span", "muted", t("you")));
    } else if (user.disabled) {
      const button = el("button", "secondary small", t("Enable"));
      button.type = "button";
      button.addEventListener("click", () => switchUser(user, false));
      actions.append(button);
    } else {
      actions.append(confirmingButton(t("Disable"), t("Sure? Disable"), () => switchUser(user, true)));
    }
    row.append(actions);
    body.append(row);
  }
}

async function switchUser(user, disabled) {
  const response = await apiFetch(`/api/v1/users/${encodeURIComponent(user.name)}`, {
    method: "PATCH",
    body: { disabled },
  });
  if (!response.ok) {
    say("user-message", (await problemOf(response)).message);
    return;
  }
  say("user-message", "");
  toast(disabled ? t("{name} can no longer sign in.", { name: user.name }) : t("{name} may sign in again.", { name: user.name }));
  loadUsers();
}

$("user-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const role = $("user-role").value;
  const body = {
    name: $("user-name").value.trim(),
    role,
    branches: role === "admin" ? [] : [branch.id],
    password: $("user-password").value,
  };
  if (body.password.length < 8) {
    say("user-message", t("A password has at least 8 characters."));
    return;
  }
  const response = await apiFetch("/api/v1/users", { method: "POST", body });
  if (!response.ok) {
    say("user-message", (await problemOf(response)).message);
    return;
  }
  const user = await response.json();
  say("user-message", "");
  $("user-name").value = "";
  $("user-password").value = "";
  toast(t("Account {name} created.", { name: user.name }));
  loadUsers();
});

// Audit trail -----------------------------------------------------------------------

const SECTIONS = {
  name: () => t("name"),
  address: () => t("address"),
  timezone: () => t("time zone"),
  languages: () => t("languages"),
  counters: () => t("counters"),
  services: () => t("services"),
  hours: () => t("opening hours"),
  capacity: () => t("capacity"),
  grace: () => t("grace times"),
  join: () => t("joining"),
  door_confirmation: () => t("door confirmation"),
  max_party_size: () => t("largest party"),
};

const COUNTER_CHANGES = {
  open: (e) => t("opened counter {counter}", e),
  paused: (e) => t("paused counter {counter}", e),
  closed: (e) => t("closed counter {counter}", e),
};

// Access changes name their subject ("queue board (1a2b3c4d5e6f)", "Entrance (Kiosk a1b2c3)",
// "kim") and what it may do ("Staff of demo").
function accessSubject(e) {
  if (e.subject === "user") return e.id;
  const id = e.subject === "device" ? `${(KINDS[e.kind] || (() => e.kind))()} ${e.id}` : e.id;
  return e.label ? `${e.label} (${id})` : id;
}

function accessScope(e) {
  const branches = e.role === "admin" ? t("all branches") : (e.branches || []).join(", ");
  return t("{role} of {branches}", { role: (ROLES[e.role] || (() => e.role))(), branches });
}

const ACCESS_CHANGES = {
  token_created: (e) => t("made a token: {subject}, {scope}", e),
  token_revoked: (e) => t("revoked a token: {subject}", e),
  device_created: (e) => t("made a pairing link for a screen: {subject}", e),
  device_paired: (e) => t("was paired: {subject}", e),
  device_revoked: (e) => t("revoked a screen: {subject}", e),
  user_created: (e) => t("added an account: {subject}, {scope}", e),
  user_disabled: (e) => t("disabled an account: {subject}", e),
  user_enabled: (e) => t("enabled an account: {subject}", e),
  user_password_changed: (e) => t("changed the password of an account: {subject}", e),
  user_role_changed: (e) => t("changed the role of an account: {subject}, now {scope}", e),
};

function accessChange(e) {
  const words = { subject: accessSubject(e), scope: accessScope(e) };
  const sentence = ACCESS_CHANGES[`${e.subject}_${e.action}`];
  return sentence ? sentence(words) : `${e.subject} ${e.action}: ${words.subject}`;
}

const SENTENCES = {
  access_changed: accessChange,
  day_opened: (e) => t("started the day's log with settings revision {revision}", e),
  config_applied: (e) =>
    e.changed && e.changed.length
      ? t("changed the settings ({sections}): revision {revision}", {
          revision: e.revision,
          sections: e.changed.map((key) => (SECTIONS[key] || (() => key))()).join(", "),
        })
      : t("applied settings revision {revision}", e),
  counter_changed: (e) => (COUNTER_CHANGES[e.status] || (() => `${e.counter}: ${e.status}`))(e),
  ticket_issued: (e) => t("issued {number} for service {service}", e),
  ticket_admitted: (e) => t("let {number} in ({inside} of {limit} inside)", e),
  entry_confirmed: (e) => t("confirmed that {number} came in", e),
  ticket_called: (e) => t("called {number} to counter {counter}", e),
  ticket_recalled: (e) => t("called {number} again to counter {counter}", e),
  service_started: (e) => t("started serving {number} at counter {counter}", e),
  service_finished: (e) => t("finished with {number} at counter {counter}", e),
  ticket_no_show: (e) =>
    e.requeued ? t("marked {number} as a no-show; it went back to the queue", e) : t("marked {number} as a no-show", e),
  ticket_cancelled: (e) => (e.by_staff ? t("cancelled {number}", e) : t("cancelled {number} (the visitor)", e)),
  ticket_delayed: (e) => t("gave {number} more time", e),
  ticket_transferred: (e) => t("transferred {number} from counter {counter} to service {service}", e),
  occupancy_adjusted: (e) =>
    e.delta > 0
      ? nt("counted {n} person without a ticket in: {reason}", "counted {n} people without a ticket in: {reason}", e.delta, e)
      : nt("counted {n} person without a ticket out: {reason}", "counted {n} people without a ticket out: {reason}", -e.delta, e),
};

// Who did it. Admissions follow from whatever made room (a counter opening, a visit
// ending) and are logged in that person's name, but nobody chose them.
function who(event) {
  const by = event.by;
  if (event.type === "ticket_admitted") return t("automatically");
  if (!by) return t("nobody named");
  if (by === "system") return t("automatically");
  if (by === "phone" || by.startsWith("phone:")) return t("a visitor's phone");
  if (by.startsWith("kiosk:")) return t("kiosk {id}", { id: by.slice(6) });
  if (by.startsWith("display:")) return t("display {id}", { id: by.slice(8) });
  if (by === "cli") return t("the command line");
  return by;
}

// Changes to access are always shown, even a screen's own pairing: they are what an audit is for.
function byPeople(event) {
  if (event.type === "access_changed") return true;
  const by = event.by || "";
  return (
    by !== "" &&
    by !== "system" &&
    by !== "phone" &&
    !by.startsWith("phone:") &&
    !by.startsWith("kiosk:") &&
    event.type !== "ticket_admitted" &&
    event.type !== "day_opened"
  );
}

const loadAudit = coalesce(async () => {
  const chosen = $("audit-day").value;
  const query = chosen ? `?day=${encodeURIComponent(chosen)}&limit=500` : "?limit=500";
  const response = await apiFetch(`${api}/audit${query}`);
  if (!response.ok) {
    $("audit-summary").textContent = (await problemOf(response)).message;
    return;
  }
  const answer = await response.json();
  if (!chosen) {
    today = answer.day;
    $("audit-day").value = answer.day;
    $("audit-day").max = answer.day;
  }
  const peopleOnly = $("audit-people").checked;
  const events = answer.events.filter((event) => !peopleOnly || byPeople(event));
  const list = clear($("audit"));
  for (const event of events) {
    const item = el("li", "audit-item");
    item.dataset.type = event.type;
    const moment = el("time", "audit-time", clock(event.at, answer.timezone, true));
    moment.dateTime = new Date(event.at * 1000).toISOString();
    const sentence = (SENTENCES[event.type] || (() => event.type))(event);
    item.append(moment, el("span", "audit-who", who(event)), el("span", "audit-what", sentence));
    list.append(item);
  }
  $("audit-summary").textContent = events.length
    ? nt("{n} entry, newest first.", "{n} entries, newest first.", events.length)
    : t("Nothing recorded.");
});

$("audit-day").addEventListener("change", loadAudit);
$("audit-people").addEventListener("change", loadAudit);
$("audit-refresh").addEventListener("click", loadAudit);

// The branch feed -------------------------------------------------------------------

connectLive(`${api}/live`, {
  resume: true,
  onStatus: showLive,
  onMessage: (message) => {
    if (!message.snapshot) return;
    settings.setOpenCounters(message.snapshot.counters.filter((c) => c.status === "open").length);
    const onToday = !$("audit-day").value || $("audit-day").value === today;
    if (message.type === "change" && loaded.has("audit") && !$("panel-audit").hidden && onToday) loadAudit();
  },
});

show(data.tab);
