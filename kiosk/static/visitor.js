// Shared by the kiosk and the phone pages: issuing a ticket and saying why it failed.

import { nt, t } from "/static/app/i18n.js";

// An Idempotency-Key for one ticket request; crypto.randomUUID needs https, this does not.
export function newIdempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// POST a ticket request, retrying a lost connection with the same key (so never twice).
// Resolves to {ok, status, body}; status 0 means the server could not be reached.
export async function requestTicket(branch, request, key, attempts = 3) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      const response = await fetch(`/api/v1/branches/${encodeURIComponent(branch)}/tickets`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": key },
        body: JSON.stringify(request),
        credentials: "same-origin",
      });
      let body = null;
      try {
        body = await response.json();
      } catch {
        body = null;
      }
      if (response.status === 503 && attempt < attempts) {
        await sleep(800 * attempt);
        continue;
      }
      return { ok: response.ok, status: response.status, body };
    } catch {
      if (attempt >= attempts) return { ok: false, status: 0, body: null };
      await sleep(800 * attempt);
    }
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// A refusal of the API in the page's language.
export function refusalText(result) {
  const error = (result.body && result.body.error) || {};
  switch (error.code) {
    case "service_suspended":
      return t("This service is not available at the moment.");
    case "branch_closed":
      return t("The branch is closed now.");
    case "daily_cap_reached":
      return t("No more tickets for this service today.");
    case "too_many_tickets":
      return nt(
        "This phone already holds {n} ticket here. Cancel it or wait until it is finished to take another.",
        "This phone already holds {n} tickets here. Cancel one or wait until they are finished to take another.",
        error.max_active_per_phone || 1,
      );
    case "door_code_required":
      return t("To join the queue, scan the QR code at the branch door.");
    case "door_code_expired":
      return t("This code has expired. Please scan the QR code at the door again.");
    case "device_not_paired":
      return t("This screen is not paired. Ask the branch manager for a pairing link.");
    case "invalid_party_size":
      return t("Please choose a smaller party.");
    default:
      if (result.status === 0) return t("No connection to the server. Please try again.");
      return t("Sorry, something went wrong. Please try again or ask the staff.");
  }
}

// "about 12 minutes", "less than a minute", or that nobody can say: no counter open for
// the service (`served` false: the wait depends on when one opens), or no figure yet.
export function waitText(minutes, served = true) {
  if (served === false) return t("Not known until a counter opens");
  if (minutes === null || minutes === undefined) return t("Not known yet");
  if (minutes < 1) return t("Less than a minute");
  return nt("About {n} minute", "About {n} minutes", minutes);
}

// The service's name in the chosen language, else the first the branch has.
export function serviceName(names, lang) {
  return names[lang] || Object.values(names)[0] || "";
}

// The page's translations follow lang="..." on <html>; the number formats too.
export function clockTime(epochSeconds, lang, timeZone) {
  return new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit", timeZone }).format(
    new Date(epochSeconds * 1000),
  );
}
