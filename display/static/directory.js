// The branch directory, kept live.
//
// Each branch's live feed (for the first dozen branches) carries the branch's
// whole snapshot on every change, which is all a row needs: no extra request per
// change. A slow re-read of GET /api/v1/branches catches what no event
// announces (a branch opening at 8:00) and covers branches beyond the feeds.

import { t, nt } from "/static/app/i18n.js";
import { connectLive } from "/static/app/live.js";

const FEEDS_AT_MOST = 12;
const REFRESH_SECONDS = 60;
const REFRESH_WITHOUT_FEEDS_SECONDS = 20;

const rows = new Map([...document.querySelectorAll(".branch")].map((row) => [row.dataset.branch, row]));
const feeds = new Map();
let updatedAt = Date.now();
let fetchFailed = false;

// The same figures as GET /api/v1/branches gives, from a branch snapshot: the longest
// wait among the services an open counter serves, none when no counter serves any.
function figures(snapshot) {
  const estimates = snapshot.services.filter((s) => s.served).map((s) => s.estimated_wait_minutes);
  return {
    open_now: snapshot.open_now,
    waiting: snapshot.services.reduce((sum, service) => sum + service.waiting, 0),
    estimated_wait_minutes: estimates.length ? Math.max(...estimates) : null,
    served: estimates.length > 0,
  };
}

function update(id, branch) {
  const row = rows.get(id);
  if (!row) return;
  row.dataset.open = branch.open_now ? "true" : "false";
  row.dataset.served = branch.served ? "true" : "false";
  row.dataset.waiting = String(branch.waiting);
  row.dataset.wait = branch.served ? String(branch.estimated_wait_minutes) : "";
  row.querySelector('[data-field="waiting"]').textContent = nt("{n} waiting", "{n} waiting", branch.waiting);
  row.querySelector('[data-field="wait"]').textContent = waitText(branch);
  updatedAt = Date.now();
  markShortestWait();
  showFreshness();
}

function waitText(branch) {
  if (!branch.open_now) return "\u2013";
  if (!branch.served) return t("No counter open");
  if (branch.estimated_wait_minutes === 0) return t("No wait");
  return t("≈ {n} min", { n: branch.estimated_wait_minutes });
}

// Among two or more open branches, point out the one with the shortest wait; a branch
// where no counter is open has no wait to compare.
function markShortestWait() {
  const open = [...rows.values()].filter((row) => row.dataset.open === "true" && row.dataset.served === "true");
  let best = null;
  for (const row of open) {
    const key = [Number(row.dataset.wait), Number(row.dataset.waiting)];
    if (best === null || key[0] < best.key[0] || (key[0] === best.key[0] && key[1] < best.key[1])) {
      best = { row, key };
    }
  }
  for (const row of rows.values()) {
    row.dataset.best = open.length > 1 && best && best.row === row ? "true" : "false";
  }
}

function showFreshness() {
  const seconds = Math.floor((Date.now() - updatedAt) / 1000);
  const text =
    seconds < 5
      ? t("Updated just now")
      : seconds < 60
        ? t("Updated {n} s ago", { n: seconds })
        : t("Updated {n} min ago", { n: Math.floor(seconds / 60) });
  document.getElementById("updated").textContent = text;
}

function showStatus() {
  const statuses = [...feeds.values()];
  const online = statuses.length > 0 ? statuses.some((status) => status === "online" || status === "connecting") : !fetchFailed;
  document.body.classList.toggle("offline", !online);
  document.getElementById("offline").classList.toggle("hidden", online);
}

async function refresh() {
  try {
    const response = await fetch("/api/v1/branches", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = await response.json();
    for (const branch of body.branches) update(branch.id, branch);
    fetchFailed = false;
  } catch {
    fetchFailed = true;
  }
  showStatus();
}

for (const id of [...rows.keys()].slice(0, FEEDS_AT_MOST)) {
  feeds.set(id, "connecting");
  connectLive(`/api/v1/branches/${encodeURIComponent(id)}/live`, {
    resume: true,
    onMessage(message) {
      if (message.snapshot) update(id, figures(message.snapshot));
    },
    onStatus(status) {
      feeds.set(id, status);
      showStatus();
    },
  });
}

markShortestWait();
setInterval(showFreshness, 1000);
setInterval(refresh, (rows.size > FEEDS_AT_MOST ? REFRESH_WITHOUT_FEEDS_SECONDS : REFRESH_SECONDS) * 1000);
