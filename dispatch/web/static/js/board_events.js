// The board's recent events: newest first, each with its time, what happened and the change.
import { capitalise, fmtDay, fmtDayTime, fmtTime, h, statusWords } from "/static/js/api.js";

const ACTION_WORDS = {
  place: "placed", mark_ready: "marked ready", close: "closed", reopen: "reopened", plan: "planned",
  move: "moved to another courier", pick_up: "picked up", deliver: "delivered", complete: "completed",
  arrive: "reached by its courier", fail: "failed", skip: "skipped", cancel: "cancelled",
  start: "started", finish: "finished", end: "ended", drop_out: "dropped out", return: "returned",
  collect: "collected",
};

function sameDay(a, b) {
  return fmtDay(a) === fmtDay(b);
}

export function eventLine(event) {
  const what = ACTION_WORDS[event.action] || statusWords(event.action);
  return `${capitalise(statusWords(event.entity))} ${event.entity_id} ${what}`;
}

export function renderEvents(list, status, events) {
  status.hidden = events.length > 0;
  status.textContent = "No events yet.";
  const now = new Date().toISOString();
  const newest = [...events].reverse();
  list.replaceChildren(...newest.map((event) => {
    const change = event.from_status || event.to_status
      ? `${statusWords(event.from_status) || "new"} → ${statusWords(event.to_status) || "—"}`
      : "";
    return h("li", { class: "board-event", dataset: { entity: event.entity, action: event.action } },
      h("time", { datetime: event.at, class: "small muted" },
        sameDay(event.at, now) ? fmtTime(event.at) : fmtDayTime(event.at)),
      " ", h("span", {}, eventLine(event)),
      change ? h("span", { class: "small muted board-change" }, change) : "");
  }));
}
