// The wall display: follows the branch feed and redraws from each snapshot.
//
// Every message of the feed carries the whole branch snapshot, so drawing is
// the same after a change, a resume or a full resynchronisation; the events
// of a change only decide what to announce. live.js reconnects by itself and
// tells us when we are offline, which the screen shows instead of stale figures
// passing for live ones.

import { t, lang } from "/static/app/i18n.js";
import { connectLive } from "/static/app/live.js";
import { Announcer } from "/static/display/announcer.js";

const settings = JSON.parse(document.getElementById("display-settings").textContent);
const second = JSON.parse(document.getElementById("catalog-second").textContent);
const layout = settings.layout;

const RECENT_CALLS = { landscape: 6, portrait: 6, door: 0 };
const REFRESH_SECONDS = 60; // what the clock changes without an event: opening hours, scheduled limits
const MAY_ENTER_AT_MOST = 40;
const NEW_CALL_SECONDS = 12;

const $ = (id) => document.getElementById(id);
const screen = $("screen");

// The second language's translation, when the display has one.
function t2(message, vars = {}) {
  if (!second) return null;
  const text = second.messages[message] || message;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// A text in the first language with its second-language version beneath it.
function bilingual(tag, className, first, secondText) {
  const node = element(tag, className);
  node.append(element("span", "first", first));
  if (secondText && secondText !== first) {
    const other = element("span", "second", secondText);
    other.lang = second.lang;
    node.append(other);
  }
  return node;
}

function callItem(call) {
  const item = element("li", "call");
  item.append(element("span", "call-number", call.number));
  item.append(element("span", "call-arrow", "→"));
  item.append(element("span", "call-counter", call.counter));
  return item;
}

let lastCall = null;
let flashTimer = null;

function drawCalling(snapshot) {
  if (!$("now")) return;
  const [latest, ...earlier] = snapshot.calling;
  const key = latest ? `${latest.number}/${latest.counter}/${latest.at}` : null;
  $("now-number").textContent = latest ? latest.number : "–";
  $("now-counter").textContent = latest ? latest.counter : "";
  $("now").classList.toggle("empty", !latest);
  if (latest && lastCall !== null && key !== lastCall) {
    // A new call: flash it, and keep it highlighted for a few seconds.
    $("now").classList.remove("flash");
    void $("now").offsetWidth;
    $("now").classList.add("flash");
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => $("now").classList.remove("flash"), NEW_CALL_SECONDS * 1000);
  }
  lastCall = key;
  $("recent").replaceChildren(...earlier.slice(0, RECENT_CALLS[layout]).map(callItem));
}

function drawOccupancy(snapshot) {
  const signal = !snapshot.open_now ? "closed" : snapshot.go ? "go" : "wait";
  const hint = !snapshot.open_now ? "closed" : snapshot.go ? "go" : snapshot.hold ? "hold" : "wait";
  const occupancy = $("occupancy");
  occupancy.dataset.signal = signal;
  occupancy.dataset.hint = hint;
  $("inside").textContent = snapshot.inside;
  $("limit").textContent = snapshot.limit;
}

// As many numbers as fit in the panel, and how many more there are.
function drawMayEnter(snapshot) {
  const numbers = snapshot.may_enter;
  const list = $("may-enter");
  const fill = (shown) => {
    const chips = numbers.slice(0, shown).map((number) => element("li", "chip", number));
    const more = numbers.length - shown;
    if (more > 0) chips.push(element("li", "chip chip-more", t("+{n} more", { n: more })));
    list.replaceChildren(...chips);
  };
  $("may-enter-none").classList.toggle("hidden", numbers.length > 0);
  let shown = Math.min(numbers.length, MAY_ENTER_AT_MOST);
  fill(shown);
  while (shown > 1 && roomFor(list) < 0.995) {
    shown -= 1;
    fill(shown);
  }
}

function waitText(service) {
  if (service.suspended) return [t("Suspended"), t2("Suspended")];
  const minutes = service.estimated_wait_minutes;
  if (!service.served) return [t("No counter open"), t2("No counter open")];
  if (minutes === 0) return [t("No wait"), t2("No wait")];
  return [t("≈ {n} min", { n: minutes }), t2("≈ {n} min", { n: minutes })];
}

function serviceName(service, language) {
  const names = service.names;
  return names[language] || Object.values(names)[0];
}

function drawServices(snapshot) {
  if (!$("services")) return;
  const rows = snapshot.services.map((service) => {
    const row = element("li", "service");
    row.classList.toggle("suspended", Boolean(service.suspended));
    row.classList.toggle("unserved", !service.suspended && !service.served);
    row.append(element("span", "service-letter", service.letter));
    const secondName = second ? serviceName(service, second.lang) : null;
    row.append(bilingual("span", "service-name", serviceName(service, lang), secondName));
    const waiting = element("span", "service-waiting");
    waiting.append(element("span", "service-count", service.waiting));
    waiting.append(element("span", "service-count-label", t("in queue")));
    row.append(waiting);
    const [first, other] = waitText(service);
    row.append(bilingual("span", "service-wait", first, other));
    if (service.suspended && service.suspended.reason) {
      const reason = service.suspended.reason[lang] || Object.values(service.suspended.reason)[0];
      if (reason) row.append(element("span", "service-reason", reason));
    }
    return row;
  });
  $("services").replaceChildren(...rows);
  $("services").dataset.count = String(rows.length);
}

// Shrink a box's type until its content fits, for languages with long words:
// everything inside the box is sized in em, so one font size scales it all.
// The box's children must stay inside its content box, and each of `lines`
// (text that does not wrap) inside its own width.
function fitBox(box, lines = []) {
  if (!box) return;
  box.style.fontSize = "";
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const ratio = Math.min(roomFor(box), ...lines.map((line) => line.clientWidth / line.scrollWidth || 1));
    if (ratio >= 0.995) return;
    const size = parseFloat(getComputedStyle(box).fontSize);
    box.style.fontSize = `${Math.floor(size * ratio * 0.98)}px`;
  }
}

// How much of what the children need the box has (1 or more: enough).
function roomFor(box) {
  const style = getComputedStyle(box);
  const outer = box.getBoundingClientRect();
  const left = outer.left + parseFloat(style.paddingLeft) + box.clientLeft;
  const top = outer.top + parseFloat(style.paddingTop) + box.clientTop;
  const width = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const height = box.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
  let right = left;
  let bottom = top;
  for (const child of box.children) {
    const rect = child.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue; // not shown
    right = Math.max(right, rect.right);
    bottom = Math.max(bottom, rect.bottom);
  }
  return Math.min(width / Math.max(right - left, 1), height / Math.max(bottom - top, 1));
}

function fitAll() {
  fitBox($("now"));
  fitBox($("occupancy"));
  for (const list of [$("recent"), $("services")]) {
    if (list) fitBox(list, [...list.children]);
  }
}

function draw(snapshot, version) {
  drawCalling(snapshot);
  drawOccupancy(snapshot);
  drawMayEnter(snapshot);
  drawServices(snapshot);
  fitAll();
  screen.dataset.version = String(version);
  document.body.classList.add("ready");
}

function drawClock() {
  const formatter = new Intl.DateTimeFormat(lang, {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: settings.timezone,
  });
  const tick = () => {
    $("clock").textContent = formatter.format(new Date());
  };
  tick();
  setInterval(tick, 1000);
}

function showStatus(status) {
  document.body.classList.toggle("offline", status !== "online");
  document.body.dataset.status = status;
  $("offline").classList.toggle("hidden", status !== "offline");
  $("gone").classList.toggle("hidden", status !== "gone");
}

// The door's QR code may rotate (a door code): fetch it again every minute.
function refreshJoinCode() {
  const image = $("join-qr");
  if (!image) return;
  // In door-only joining the code is for the branch's paired screens: say so instead of a hole.
  const shown = (ok) => {
    image.classList.toggle("hidden", !ok);
    $("join-unpaired").classList.toggle("hidden", ok);
  };
  image.addEventListener("error", () => shown(false));
  image.addEventListener("load", () => shown(true));
  if (image.complete && image.naturalWidth === 0) shown(false);
  setInterval(() => {
    const url = new URL(settings.join_qr, location.href);
    url.searchParams.set("t", String(Date.now()));
    const next = new Image();
    next.onload = () => {
      image.src = next.src;
    };
    next.onerror = () => shown(false);
    next.src = url.toString();
  }, settings.qr_refresh_seconds * 1000);
}

const announcer = new Announcer({
  speech: settings.speech,
  sound: settings.sound && settings.speech.length > 0,
  onBlocked: () => $("sound").classList.remove("hidden"),
});
$("sound").addEventListener("click", () => {
  announcer.unlock();
  $("sound").classList.add("hidden");
});

function announceCalls(message) {
  for (const event of message.events || []) {
    if (event.type === "ticket_called" || event.type === "ticket_recalled") {
      announcer.announce({ number: event.number, counter: event.counter, at: event.at });
    }
  }
}

drawClock();
refreshJoinCode();
addEventListener("resize", fitAll);
document.fonts.ready.then(fitAll);
if (settings.sound && settings.speech.length > 0) {
  announcer.context(); // made now, so that a browser that keeps sound off says so early
  setTimeout(() => {
    if (!announcer.soundAllowed()) $("sound").classList.remove("hidden");
  }, 1500);
}

let shownVersion = -1;
let shownDay = null;

function show(snapshot, version) {
  shownVersion = version;
  shownDay = snapshot.day;
  draw(snapshot, version);
}

const feed = `/api/v1/branches/${encodeURIComponent(settings.branch)}`;
connectLive(`${feed}/live`, {
  resume: true,
  onStatus: showStatus,
  onMessage(message) {
    if (!message.snapshot) return;
    show(message.snapshot, message.version);
    if (message.type === "change") announceCalls(message);
  },
});

// Events drive the screen, but opening hours and scheduled limits change with the
// clock alone: a slow re-read keeps "open" and "x / y" true between events.
setInterval(async () => {
  try {
    const response = await fetch(feed, { headers: { Accept: "application/json" } });
    if (response.ok) {
      const snapshot = await response.json();
      // The feed may be ahead of this read: never step back to an older state.
      if (snapshot.day !== shownDay || snapshot.version >= shownVersion) show(snapshot, snapshot.version);
    }
  } catch {
    // the live feed reports being offline; nothing more to say here
  }
}, REFRESH_SECONDS * 1000);
