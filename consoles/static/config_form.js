// The settings form: the branch's whole configuration as fields, saved whole.
//
// The form edits a copy of the configuration document; every field is bound
// to a path in it (["capacity", "default", "extra"]) and carries that path as
// `data-path`, so the server's `problems` ("capacity.default: extra must be
// ...") land next to the field they name. The capacity section asks the
// server for a preview of the limits it gives, computed by the engine's own
// rule, as the manager types.

import { apiFetch } from "/static/app/session.js";
import { $, el, clear, t, nt, problemOf, toast, lang } from "/static/consoles/common.js";

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = {
  mon: () => t("Monday"),
  tue: () => t("Tuesday"),
  wed: () => t("Wednesday"),
  thu: () => t("Thursday"),
  fri: () => t("Friday"),
  sat: () => t("Saturday"),
  sun: () => t("Sunday"),
};
const DAY_SHORT = {
  mon: () => t("Mon"),
  tue: () => t("Tue"),
  wed: () => t("Wed"),
  thu: () => t("Thu"),
  fri: () => t("Fri"),
  sat: () => t("Sat"),
  sun: () => t("Sun"),
};
const PREVIEW_DELAY_MS = 250;

export function configForm({ branch, languages, onSaved }) {
  const form = $("config-form");
  const sections = $("config-sections");
  const url = `/api/v1/branches/${encodeURIComponent(branch.id)}/config`;
  let doc = null; // the configuration being edited
  let saved = ""; // the last saved configuration, as JSON, to tell whether anything changed
  let previewTimer = null;
  let previewAsked = 0;
  let openCounters = null; // from the branch feed; null: as the server sees it

  // Paths and values --------------------------------------------------------------

  function get(path) {
    return path.reduce((node, key) => (node === null || node === undefined ? undefined : node[key]), doc);
  }

  function set(path, value) {
    const parent = get(path.slice(0, -1));
    parent[path[path.length - 1]] = value;
    changed(path);
  }

  function changed(path) {
    const dirty = JSON.stringify(doc) !== saved;
    $("config-save").disabled = !dirty;
    $("config-discard").disabled = !dirty;
    $("save-state").textContent = dirty ? t("Unsaved changes") : "";
    if (path && path[0] === "capacity") schedulePreview();
  }

  // A number field's value: a number, null for an empty optional field, else the text as
  // typed (the server then says what is wrong with it, next to the field).
  function number(text, optional) {
    const trimmed = text.trim();
    if (trimmed === "") return optional ? null : trimmed;
    const value = Number(trimmed);
    return Number.isFinite(value) ? value : trimmed;
  }

  // Building fields ---------------------------------------------------------------

  function field(label, control, path, note) {
    const wrap = el("div", "field");
    wrap.dataset.path = path.join(".");
    const id = `f-${path.join("-")}`;
    control.id = id;
    const caption = el("label", null, label);
    caption.htmlFor = id;
    wrap.append(caption, control);
    if (note) wrap.append(el("span", "field-note", note));
    return wrap;
  }

  function text(path, { maxlength = 200, placeholder = "", upper = false } = {}) {
    const input = el("input");
    input.value = get(path) ?? "";
    input.maxLength = maxlength;
    if (placeholder) input.placeholder = placeholder;
    input.addEventListener("input", () => {
      if (upper) input.value = input.value.toUpperCase();
      set(path, input.value);
    });
    return input;
  }

  function numeric(path, { min, max, step = 1, optional = false } = {}) {
    const input = el("input");
    input.type = "number";
    input.inputMode = step < 1 ? "decimal" : "numeric";
    if (min !== undefined) input.min = min;
    if (max !== undefined) input.max = max;
    input.step = step;
    const value = get(path);
    input.value = value === null || value === undefined ? "" : value;
    if (optional) input.placeholder = t("none");
    input.addEventListener("input", () => set(path, number(input.value, optional)));
    return input;
  }

  function time(path) {
    const input = el("input");
    input.type = "time";
    input.value = String(get(path) || "00:00").slice(0, 5);
    input.addEventListener("input", () => set(path, input.value || "00:00"));
    return input;
  }

  function checkbox(label, path, onChange) {
    const wrap = el("label", "check");
    wrap.dataset.path = path.join(".");
    const input = el("input");
    input.type = "checkbox";
    input.checked = Boolean(get(path));
    input.addEventListener("change", () => {
      set(path, input.checked);
      if (onChange) onChange(input.checked);
    });
    wrap.append(input, document.createTextNode(" " + label));
    return wrap;
  }

  function plainCheck(label, checked, onChange) {
    const wrap = el("label", "check");
    const input = el("input");
    input.type = "checkbox";
    input.checked = checked;
    input.addEventListener("change", () => onChange(input.checked));
    wrap.append(input, document.createTextNode(" " + label));
    return wrap;
  }

  function section(title, path, note) {
    const box = el("fieldset", "config-section");
    box.dataset.path = path;
    box.id = `section-${path}`;
    box.append(el("legend", null, title));
    if (note) box.append(el("p", "muted section-note", note));
    return box;
  }

  function removeButton(label, onRemove) {
    const button = el("button", "secondary small remove", label);
    button.type = "button";
    button.addEventListener("click", onRemove);
    return button;
  }

  function addButton(label, onAdd) {
    const button = el("button", "secondary small add", label);
    button.type = "button";
    button.addEventListener("click", onAdd);
    return button;
  }

  // The sections --------------------------------------------------------------------

  function render() {
    clear(sections);
    sections.append(general(), services(), counters(), hours(), capacity(), grace(), joining());
    changed();
    schedulePreview();
  }

  function replace(id, build) {
    const old = $(id);
    if (old) old.replaceWith(build());
  }

  function general() {
    const box = section(t("Branch"), "general");
    const grid = el("div", "field-grid");
    grid.append(
      field(t("Name"), text(["name"], { maxlength: 100 }), ["name"]),
      field(t("Address"), text(["address"], { maxlength: 200 }), ["address"]),
    );
    const zone = text(["timezone"], { maxlength: 64 });
    zone.setAttribute("list", "timezones");
    grid.append(field(t("Time zone"), zone, ["timezone"]));
    grid.append(field(t("Largest party"), numeric(["max_party_size"], { min: 1, max: 20 }), ["max_party_size"]));
    box.append(grid, timezoneList());
    const langs = el("div", "choice-row");
    langs.dataset.path = "languages";
    langs.append(el("span", "choice-label", t("Languages of the screens")));
    for (const [code, name] of Object.entries(languages)) {
      const label = el("label", "check");
      const input = el("input");
      input.type = "checkbox";
      input.checked = doc.languages.includes(code);
      input.addEventListener("change", () => {
        const chosen = new Set(doc.languages);
        if (input.checked) chosen.add(code);
        else chosen.delete(code);
        set(["languages"], Object.keys(languages).filter((c) => chosen.has(c)));
        replace("section-services", services);
      });
      label.append(input, document.createTextNode(" " + name));
      langs.append(label);
    }
    box.append(langs);
    box.append(
      checkbox(t("Door staff confirm who comes in (an admitted visitor who does not come in time loses their turn)"), [
        "door_confirmation",
      ]),
    );
    return box;
  }

  function timezoneList() {
    const list = el("datalist");
    list.id = "timezones";
    const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
    for (const zone of zones) {
      const option = el("option");
      option.value = zone;
      list.append(option);
    }
    return list;
  }

  function services() {
    const box = section(t("Services"), "services", t("One capital letter each; tickets are numbered A001, A002… per service."));
    doc.services.forEach((service, index) => {
      const path = ["services", index];
      const card = el("div", "row-card");
      card.dataset.path = path.join(".");
      const top = el("div", "field-grid");
      const letter = text([...path, "letter"], { maxlength: 1, upper: true });
      letter.classList.add("letter-input");
      let previous = service.letter;
      letter.addEventListener("input", () => {
        // Counters that served the service go on serving it under its new letter.
        for (const counter of doc.counters) {
          counter.services = counter.services.map((l) => (l === previous ? service.letter : l));
        }
        previous = service.letter;
        replace("section-counters", counters);
      });
      top.append(field(t("Letter"), letter, [...path, "letter"]));
      for (const code of doc.languages) {
        if (!service.names) service.names = {};
        top.append(
          field(`${t("Name")} (${languages[code] || code})`, text([...path, "names", code], { maxlength: 100 }), [...path, "names", code]),
        );
      }
      top.append(
        field(t("Priority"), numeric([...path, "priority"], { min: -100, max: 100 }), [...path, "priority"], t("higher goes first")),
        field(t("Minutes per visit"), numeric([...path, "minutes_per_visit"], { min: 0.5, max: 240, step: 0.5 }), [...path, "minutes_per_visit"]),
        field(t("Tickets per day"), numeric([...path, "daily_cap"], { min: 1, optional: true }), [...path, "daily_cap"]),
      );
      card.append(top);
      const suspension = el("div", "suspension");
      suspension.dataset.path = [...path, "suspended"].join(".");
      const toggle = plainCheck(t("Suspended (no new tickets)"), Boolean(service.suspended), (on) => {
        service.suspended = on ? { reason: {}, online_url: null } : null;
        changed(path);
        replace("section-services", services);
      });
      suspension.append(toggle);
      if (service.suspended) {
        const grid = el("div", "field-grid");
        for (const code of doc.languages) {
          grid.append(
            field(`${t("Why")} (${languages[code] || code})`, text([...path, "suspended", "reason", code]), [...path, "suspended", "reason", code]),
          );
        }
        const online = text([...path, "suspended", "online_url"], { placeholder: "https://" });
        online.addEventListener("input", () => {
          if (!online.value.trim()) service.suspended.online_url = null;
        });
        grid.append(field(t("Do it online at"), online, [...path, "suspended", "online_url"]));
        suspension.append(grid);
      }
      card.append(suspension);
      card.append(
        removeButton(t("Remove service"), () => {
          doc.services.splice(index, 1);
          for (const counter of doc.counters) counter.services = counter.services.filter((l) => l !== service.letter);
          changed(["services"]);
          replace("section-services", services);
          replace("section-counters", counters);
        }),
      );
      box.append(card);
    });
    box.append(
      addButton(t("Add a service"), () => {
        const used = new Set(doc.services.map((s) => s.letter));
        const letter = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"].find((l) => !used.has(l)) || "";
        doc.services.push({ letter, names: {}, priority: 0, daily_cap: null, minutes_per_visit: 6, suspended: null });
        changed(["services"]);
        replace("section-services", services);
        replace("section-counters", counters);
      }),
    );
    return box;
  }

  function counters() {
    const box = section(t("Counters"), "counters", t("Each counter serves the services ticked here."));
    doc.counters.forEach((counter, index) => {
      const path = ["counters", index];
      const row = el("div", "row-card counter-row");
      row.dataset.path = path.join(".");
      row.dataset.altPath = `counters.${counter.id}`;
      const grid = el("div", "field-grid");
      grid.append(
        field(t("Number"), text([...path, "id"], { maxlength: 8 }), [...path, "id"]),
        field(t("Name on screens"), text([...path, "name"], { maxlength: 60 }), [...path, "name"]),
      );
      row.append(grid);
      const choices = el("div", "choice-row");
      choices.dataset.path = [...path, "services"].join(".");
      choices.append(el("span", "choice-label", t("Serves")));
      for (const service of doc.services) {
        const label = el("label", "check");
        const input = el("input");
        input.type = "checkbox";
        input.checked = counter.services.includes(service.letter);
        input.addEventListener("change", () => {
          const chosen = new Set(counter.services);
          if (input.checked) chosen.add(service.letter);
          else chosen.delete(service.letter);
          set([...path, "services"], doc.services.map((s) => s.letter).filter((l) => chosen.has(l)));
        });
        label.append(input, document.createTextNode(` ${service.letter}`));
        label.title = service.names[lang] || service.names.en || Object.values(service.names)[0] || "";
        choices.append(label);
      }
      row.append(choices);
      row.append(
        removeButton(t("Remove counter"), () => {
          doc.counters.splice(index, 1);
          changed(["counters"]);
          replace("section-counters", counters);
        }),
      );
      box.append(row);
    });
    box.append(
      addButton(t("Add a counter"), () => {
        const ids = new Set(doc.counters.map((c) => c.id));
        let next = doc.counters.length + 1;
        while (ids.has(String(next))) next += 1;
        doc.counters.push({ id: String(next), name: t("Counter {n}", { n: next }), services: doc.services.map((s) => s.letter) });
        changed(["counters"]);
        replace("section-counters", counters);
      }),
    );
    return box;
  }

  function hours() {
    const box = section(t("Opening hours"), "hours", t("Tickets are issued only while open. 00:00 as closing time means midnight."));
    if (!doc.hours) doc.hours = {};
    const table = el("div", "hours-table");
    for (const day of WEEKDAYS) {
      const row = el("div", "hours-row");
      row.dataset.path = `hours.${day}`;
      row.append(el("span", "hours-day", DAY_NAMES[day]()));
      const intervals = el("div", "hours-intervals");
      const list = doc.hours[day] || [];
      if (!list.length) intervals.append(el("span", "muted", t("Closed")));
      list.forEach((interval, index) => {
        const path = ["hours", day, index];
        const item = el("span", "interval");
        item.dataset.path = path.join(".");
        const from = time([...path, "open"]);
        from.setAttribute("aria-label", `${DAY_NAMES[day]()} ${t("opens")}`);
        const to = time([...path, "close"]);
        to.setAttribute("aria-label", `${DAY_NAMES[day]()} ${t("closes")}`);
        item.append(from, el("span", "dash", "–"), to);
        const remove = removeButton("×", () => {
          list.splice(index, 1);
          if (!list.length) delete doc.hours[day];
          changed(["hours"]);
          replace("section-hours", hours);
        });
        remove.setAttribute("aria-label", t("Remove these hours"));
        item.append(remove);
        intervals.append(item);
      });
      row.append(intervals);
      row.append(
        addButton(t("Add hours"), () => {
          const last = list[list.length - 1];
          doc.hours[day] = [...list, last ? { open: last.close, close: "00:00" } : { open: "08:00", close: "17:00" }];
          changed(["hours"]);
          replace("section-hours", hours);
        }),
      );
      table.append(row);
    }
    box.append(table);
    return box;
  }

  function ruleFields(path) {
    const grid = el("div", "field-grid rule-grid");
    grid.dataset.path = path.join(".");
    grid.append(
      field(t("People per open counter"), numeric([...path, "people_per_counter"], { min: 0, max: 100 }), [...path, "people_per_counter"]),
      field(t("Plus"), numeric([...path, "extra"], { min: -1000, max: 1000 }), [...path, "extra"], t("people, whatever is open")),
      field(t("At least"), numeric([...path, "minimum"], { min: 0, max: 10000 }), [...path, "minimum"]),
      field(t("At most"), numeric([...path, "maximum"], { min: 0, max: 10000, optional: true }), [...path, "maximum"], t("room size; empty for no maximum")),
    );
    return grid;
  }

  function capacity() {
    const box = section(
      t("Capacity"),
      "capacity",
      t("How many people may be inside: people per open counter, plus extra, kept between the least and the most."),
    );
    const fields = el("div", "capacity-fields");
    const hold = checkbox(t("Hold: let nobody else in for now"), ["capacity", "hold"]);
    hold.classList.add("hold-switch");
    fields.append(hold);
    const reserve = el("div", "field-grid");
    reserve.append(
      field(
        t("Keep room for a party that does not fit after"),
        numeric(["capacity", "reserve_after_minutes"], { min: 0, max: 600, optional: true }),
        ["capacity", "reserve_after_minutes"],
        t("minutes since its ticket; until then others may go ahead of it. Empty: never"),
      ),
    );
    fields.append(reserve);
    fields.append(el("h3", null, t("Usual rule")));
    fields.append(ruleFields(["capacity", "default"]));
    fields.append(el("h3", null, t("Scheduled rules")));
    fields.append(el("p", "muted section-note", t("A scheduled rule replaces the usual one on its days and hours; the first that fits applies.")));
    doc.capacity.schedule.forEach((scheduled, index) => {
      const path = ["capacity", "schedule", index];
      const card = el("div", "row-card");
      card.dataset.path = path.join(".");
      const top = el("div", "field-grid");
      top.append(
        field(t("Name"), text([...path, "name"], { maxlength: 60, placeholder: t("Epidemic rule") }), [...path, "name"]),
        field(t("From"), time([...path, "start"]), [...path, "start"]),
        field(t("Until"), time([...path, "end"]), [...path, "end"], t("the same as From: all day")),
      );
      card.append(top);
      const days = el("div", "choice-row");
      days.dataset.path = [...path, "days"].join(".");
      days.append(el("span", "choice-label", t("Days")));
      for (const day of WEEKDAYS) {
        const label = el("label", "check");
        const input = el("input");
        input.type = "checkbox";
        input.checked = scheduled.days.includes(day);
        input.addEventListener("change", () => {
          const chosen = new Set(scheduled.days);
          if (input.checked) chosen.add(day);
          else chosen.delete(day);
          set([...path, "days"], WEEKDAYS.filter((d) => chosen.has(d)));
        });
        label.append(input, document.createTextNode(" " + DAY_SHORT[day]()));
        days.append(label);
      }
      card.append(days, ruleFields([...path, "rule"]));
      card.append(
        removeButton(t("Remove this rule"), () => {
          doc.capacity.schedule.splice(index, 1);
          changed(["capacity"]);
          replace("section-capacity", capacity);
        }),
      );
      fields.append(card);
    });
    fields.append(
      addButton(t("Add a scheduled rule"), () => {
        doc.capacity.schedule.push({
          name: "",
          days: ["mon", "tue", "wed", "thu", "fri"],
          start: "00:00",
          end: "00:00",
          rule: { ...doc.capacity.default },
        });
        changed(["capacity"]);
        replace("section-capacity", capacity);
      }),
    );
    const preview = el("div", "preview");
    preview.id = "capacity-preview";
    preview.setAttribute("aria-live", "polite");
    preview.append(el("p", "preview-headline", ""), el("p", "preview-rule muted", ""), el("div", "preview-table"));
    const layout = el("div", "capacity-layout");
    layout.append(fields, preview);
    box.append(layout);
    return box;
  }

  function grace() {
    const box = section(t("Grace times"), "grace");
    const grid = el("div", "field-grid");
    grid.append(
      field(t("To come in after being let in"), numeric(["grace", "enter_seconds"], { min: 30, max: 3600 }), ["grace", "enter_seconds"], t("seconds")),
      field(t("To come to the counter after a call"), numeric(["grace", "call_seconds"], { min: 30, max: 3600 }), ["grace", "call_seconds"], t("seconds")),
      field(t("Places moved back when asking for more time"), numeric(["grace", "delay_places"], { min: 1, max: 50 }), ["grace", "delay_places"]),
    );
    box.append(grid);
    box.append(checkbox(t("A missed call puts the ticket back in the queue once"), ["grace", "requeue_no_show_once"]));
    return box;
  }

  function joining() {
    const box = section(t("Joining from a phone"), "join");
    const choices = el("div", "choice-column");
    choices.dataset.path = "join.mode";
    for (const [mode, label] of [
      ["open", t("From anywhere: people may queue from home")],
      ["door", t("At the door only: with the code on the door display, which changes every minute")],
    ]) {
      const wrap = el("label", "check");
      const input = el("input");
      input.type = "radio";
      input.name = "join-mode";
      input.value = mode;
      input.checked = doc.join.mode === mode;
      input.addEventListener("change", () => set(["join", "mode"], mode));
      wrap.append(input, document.createTextNode(" " + label));
      choices.append(wrap);
    }
    box.append(choices);
    box.append(
      field(t("Tickets at once per phone"), numeric(["join", "max_active_per_phone"], { min: 1, max: 20 }), ["join", "max_active_per_phone"]),
    );
    return box;
  }

  // The capacity preview ---------------------------------------------------------------

  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, PREVIEW_DELAY_MS);
  }

  async function preview() {
    const box = $("capacity-preview");
    if (!box || !doc) return;
    const asked = ++previewAsked;
    const body = { capacity: doc.capacity };
    if (openCounters !== null) body.open_counters = openCounters;
    let response;
    try {
      response = await apiFetch(`/api/v1/branches/${encodeURIComponent(branch.id)}/capacity/preview`, { method: "POST", body });
    } catch {
      return;
    }
    if (asked !== previewAsked) return; // a newer question is on its way
    const headline = box.querySelector(".preview-headline");
    const rule = box.querySelector(".preview-rule");
    const table = clear(box.querySelector(".preview-table"));
    if (!response.ok) {
      const problem = await problemOf(response);
      box.dataset.state = "invalid";
      headline.textContent = t("No preview: the rule has problems.");
      rule.textContent = (problem.problems.length ? problem.problems : [problem.message]).join(" ");
      return;
    }
    const answer = await response.json();
    box.dataset.state = answer.hold ? "hold" : "ok";
    box.dataset.limit = answer.limit;
    headline.textContent = nt(
      "With {n} counter open, the limit is {limit}.",
      "With {n} counters open, the limit is {limit}.",
      answer.open_counters,
      { limit: answer.limit },
    );
    const inForce = answer.rules.find((r) => r.rule === answer.in_force);
    rule.textContent =
      (answer.in_force === "default" ? t("The usual rule applies now.") : t("Now the scheduled rule “{name}” applies.", { name: inForce.name || t("unnamed") })) +
      (answer.hold ? " " + t("Hold is on: nobody is let in, whatever the limit.") : "");
    table.append(previewTable(answer));
  }

  function previewTable(answer) {
    const grid = el("table", "data-table preview-grid");
    const head = el("tr");
    head.append(el("th", null, t("Counters open")));
    const most = answer.rules[0].limits.length - 1;
    for (let n = 0; n <= most; n += 1) {
      const cell = el("th", n === answer.open_counters ? "now" : null, n);
      cell.scope = "col";
      head.append(cell);
    }
    const thead = el("thead");
    thead.append(head);
    const tbody = el("tbody");
    for (const item of answer.rules) {
      const row = el("tr", item.rule === answer.in_force ? "in-force" : null);
      const name =
        item.rule === "default"
          ? t("Usual rule")
          : `${item.name || t("unnamed")} (${item.days.map((d) => DAY_SHORT[d]()).join(" ")}${item.start === item.end ? "" : ` ${item.start}–${item.end}`})`;
      const label = el("th", null, name);
      label.scope = "row";
      row.append(label);
      item.limits.forEach((limit, n) => row.append(el("td", n === answer.open_counters && item.rule === answer.in_force ? "now" : null, limit)));
      tbody.append(row);
    }
    grid.append(thead, tbody);
    return grid;
  }

  // Loading and saving ----------------------------------------------------------------

  function adopt(document_) {
    const copy = structuredClone(document_);
    delete copy.revision;
    doc = copy;
    saved = JSON.stringify(doc);
    render();
  }

  async function load() {
    const response = await apiFetch(url);
    if (!response.ok) {
      showProblems([], (await problemOf(response)).message);
      return;
    }
    const loaded = await response.json();
    $("save-state").dataset.revision = loaded.revision;
    adopt(loaded);
  }

  function showProblems(problems, message) {
    for (const old of form.querySelectorAll(".problem")) old.remove();
    for (const marked of form.querySelectorAll(".has-problem")) marked.classList.remove("has-problem");
    const box = $("config-problems");
    clear(box);
    const loose = [];
    for (const problem of problems) {
      const cleaned = problem.replace(/^config: /, "");
      const split = cleaned.indexOf(": ");
      const path = split > 0 ? cleaned.slice(0, split) : "";
      const words = split > 0 ? cleaned.slice(split + 2) : cleaned;
      const target = place(path, words, problem.startsWith("config: "));
      if (target) {
        target.classList.add("has-problem");
        const note = el("p", "problem", words);
        if (target.tagName === "FIELDSET") target.querySelector("legend").after(note);
        else if (target.classList.contains("field")) target.append(note);
        else if (target.classList.contains("interval")) target.after(note);
        else if (target.classList.contains("hours-row")) target.querySelector(".hours-intervals").append(note);
        else target.prepend(note);
      } else {
        loose.push(cleaned);
      }
    }
    if (message || problems.length) {
      box.append(el("p", "problems-title", message || nt("{n} problem: see the marked field.", "{n} problems: see the marked fields.", problems.length)));
      const list = el("ul");
      for (const item of loose) list.append(el("li", null, item));
      if (loose.length) box.append(list);
    }
    box.classList.toggle("hidden", !box.firstChild);
    const first = form.querySelector(".has-problem") || (box.firstChild ? box : null);
    if (first) first.scrollIntoView({ block: "center" });
  }

  // The element a problem's path names, or its nearest named ancestor. A problem of the
  // whole configuration ("config: counters.2: ...") names counters by id, not position;
  // "capacity.default: extra must be ..." is about the field its message starts with.
  function place(path, words, whole) {
    const named = (key) => form.querySelector(`[data-${whole ? "alt-path" : "path"}="${CSS.escape(key)}"]`)
      || form.querySelector(`[data-path="${CSS.escape(key)}"]`);
    const about = /^([a-z_]+) /.exec(words);
    if (path && about) {
      const inner = form.querySelector(`[data-path="${CSS.escape(`${path}.${about[1]}`)}"]`);
      if (inner) return inner;
    }
    let parts = path ? path.split(".") : [];
    while (parts.length) {
      const found = named(parts.join("."));
      if (found) return found;
      parts = parts.slice(0, -1);
    }
    return null;
  }

  // Empty names and reasons are left out rather than saved as empty words.
  function cleaned(document_) {
    const copy = structuredClone(document_);
    const filled = (texts) => Object.fromEntries(Object.entries(texts || {}).filter(([, v]) => String(v).trim()));
    for (const service of copy.services) {
      service.names = filled(service.names);
      if (service.suspended) service.suspended.reason = filled(service.suspended.reason);
    }
    return copy;
  }

  async function save(event) {
    event.preventDefault();
    $("config-save").disabled = true;
    $("save-state").textContent = t("Saving…");
    let response;
    try {
      response = await apiFetch(url, { method: "PUT", body: { ...cleaned(doc), id: branch.id } });
    } catch (error) {
      $("save-state").textContent = (await problemOf(error)).message;
      changed();
      return;
    }
    if (response.ok) {
      const stored = await response.json();
      showProblems([]);
      adopt(stored);
      $("save-state").textContent = t("Saved: revision {revision}.", { revision: stored.revision });
      toast(t("Settings saved."));
      if (onSaved) onSaved(stored);
      return;
    }
    const problem = await problemOf(response);
    showProblems(problem.problems, problem.problems.length ? null : problem.message);
    changed();
    $("save-state").textContent = t("Not saved.");
  }

  form.addEventListener("submit", save);
  $("config-discard").addEventListener("click", () => {
    showProblems([]);
    adopt(JSON.parse(saved));
  });
  window.addEventListener("beforeunload", (event) => {
    if (doc && JSON.stringify(doc) !== saved) event.preventDefault();
  });

  return {
    load,
    // The branch feed says how many counters are open now: the preview follows.
    setOpenCounters(n) {
      if (n !== openCounters) {
        openCounters = n;
        if (doc) schedulePreview();
      }
    },
  };
}
