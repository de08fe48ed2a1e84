// Joining from a phone: choose the service, send the request, open the ticket page.

import { t } from "/static/app/i18n.js";
import { newIdempotencyKey, refusalText, requestTicket } from "/static/kiosk/visitor.js";

const data = JSON.parse(document.getElementById("join-data").textContent);
const form = document.getElementById("join-form");
const error = document.getElementById("join-error");
let pendingKey = null;
let pendingRequest = "";

function fail(text) {
  error.textContent = text;
  error.classList.remove("hidden");
  error.focus?.();
}

if (form) {
  form.addEventListener("change", () => error.classList.add("hidden"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const service = form.querySelector('input[name="service"]:checked');
    if (!service) {
      fail(t("Please choose a service."));
      form.querySelector('input[name="service"]')?.focus();
      return;
    }
    const request = {
      service: service.value,
      party_size: Number(form.elements.party_size.value),
      priority: form.elements.priority.checked,
      lang: data.lang,
      via: "phone",
    };
    if (data.door_code) request.door_code = data.door_code;
    const fingerprint = JSON.stringify(request);
    if (fingerprint !== pendingRequest) {
      pendingKey = newIdempotencyKey();
      pendingRequest = fingerprint;
    }
    const button = document.getElementById("join");
    button.disabled = true;
    const result = await requestTicket(data.branch, request, pendingKey);
    if (result.ok) {
      location.assign(result.body.links.page);
      return;
    }
    button.disabled = false;
    fail(refusalText(result));
  });
}
