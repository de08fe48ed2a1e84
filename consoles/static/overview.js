// The manager's overview: one live card per branch. Each card follows its
// branch's feed (counters, occupancy against the limit, waiting per service)
// and reads the branch's queue when something changed, for the longest wait.

import { apiFetch } from "/static/app/session.js";
import { connectLive } from "/static/app/live.js";
import {
  el, clear, data, t, nt, duration, serviceName, showLive, coalesce, syncClock, serverNow,
} from "/static/consoles/common.js";

const statuses = new Map(); // branch -> its feed's status; the bar's light is on when all are

function card(branch) {
  const node = document.querySelector(`[data-branch="${CSS.escape(branch.id)}"]`);
  const field = (name) => node.querySelector(`[data-field="${name}"]`);
  let longest = null; // { seconds, at }: the queue's answer and when it was true

  const readQueue = coalesce(async () => {
    try {
      const response = await apiFetch(`/api/v1/branches/${encodeURIComponent(branch.id)}/queue`);
      if (!response.ok) return;
      const queue = await response.json();
      syncClock(queue.now);
      longest = queue.tickets.length ? { seconds: queue.longest_wait_seconds, at: queue.now } : null;
      showLongest();
    } catch {
      /* offline: the light says so */
    }
  });

  function showLongest() {
    field("longest").textContent = longest ? duration(longest.seconds + serverNow() - longest.at) : "–";
  }

  function draw(snapshot) {
    node.dataset.signal = !snapshot.open_now ? "closed" : snapshot.hold ? "hold" : snapshot.go ? "go" : "wait";
    field("open").textContent = snapshot.open_now ? t("Open now") : t("Closed now");
    field("open").dataset.status = snapshot.open_now ? "open" : "closed";
    field("inside").textContent = snapshot.inside;
    field("limit").textContent = snapshot.limit;
    const share = snapshot.limit > 0 ? Math.min(1, snapshot.inside / snapshot.limit) : 1;
    field("meter").style.width = `${Math.round(share * 100)}%`;
    field("hold").textContent = snapshot.hold ? t("Admissions on hold") : "";
    const waiting = snapshot.services.reduce((sum, s) => sum + s.waiting, 0);
    field("waiting").textContent = waiting;
    field("may-enter").textContent = snapshot.may_enter.length
      ? nt("{n} may enter now", "{n} may enter now", snapshot.may_enter.length)
      : "";
    const counters = clear(field("counters"));
    for (const counter of snapshot.counters) {
      const chip = el("li", "counter-chip");
      chip.dataset.status = counter.status;
      chip.append(el("span", "counter-chip-name", counter.name));
      const state = { open: t("Open"), paused: t("Paused"), closed: t("Closed") }[counter.status] || counter.status;
      chip.append(el("span", "counter-chip-state", counter.ticket ? `${state} · ${counter.ticket}` : state));
      counters.append(chip);
    }
    const services = clear(field("services"));
    for (const service of snapshot.services) {
      const row = el("tr");
      row.append(el("th", null, `${service.letter} · ${serviceName(service)}`));
      row.lastChild.scope = "row";
      row.append(el("td", null, service.waiting), el("td", null, service.inside));
      const minutes = service.estimated_wait_minutes;
      row.append(el("td", null, minutes === null ? t("no open counter") : t("≈ {n} min", { n: minutes })));
      services.append(row);
    }
  }

  connectLive(`/api/v1/branches/${encodeURIComponent(branch.id)}/live`, {
    resume: true,
    onStatus: (status) => {
      statuses.set(branch.id, status);
      const all = [...statuses.values()];
      showLive(all.every((s) => s === "online") ? "online" : "offline");
    },
    onMessage: (message) => {
      if (!message.snapshot) return;
      draw(message.snapshot);
      readQueue();
    },
  });
  setInterval(showLongest, 5000);
}

for (const branch of data.branches) card(branch);
