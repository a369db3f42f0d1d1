// The courier app's offline queue: stop actions (load, pickup, deliver, fail) taken without a
// connection wait in localStorage, in order, and are sent when the phone is back online.
import { api, ApiError } from "/static/js/api.js";

const KEY = "velocal.courier.queue";

/** The API call of each action kind. */
const PATHS = {
  load: (stopId) => `/api/courier/stops/${stopId}/load`,
  pickup: (stopId) => `/api/courier/stops/${stopId}/pickup`,
  deliver: (stopId) => `/api/courier/stops/${stopId}/deliver`,
  fail: (stopId) => `/api/courier/stops/${stopId}/fail`,
};

export function pending() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "[]");
  } catch {
    return [];
  }
}

function save(entries) {
  localStorage.setItem(KEY, JSON.stringify(entries));
}

/** Send one action now: the API's answer (StopPublic), or an ApiError. */
export function send(action) {
  return api(PATHS[action.kind](action.stopId), { method: "POST", body: action.body });
}

/** Keep an action for later. Throws an Error in words if the phone has no room for it. */
export function enqueue(action) {
  const entry = { ...action, queuedAt: new Date().toISOString() };
  try {
    save([...pending(), entry]);
  } catch {
    throw new Error("This phone has no room to keep it offline (a photo may be too large).");
  }
  return entry;
}

/** Is this a failure of the connection (the action should wait), not a refusal? */
export function isOffline(error) {
  return error instanceof ApiError && error.status === 0;
}

let flushing = null;

/**
 * Send the waiting actions in order. `onSent(action, answer)` for each one taken,
 * `onRefused(action, error)` for each the API refused (it is dropped: the stop reverts).
 * Stops at the first connection failure; the rest keep waiting.
 */
export function flush({ onSent, onRefused }) {
  if (flushing) return flushing;
  flushing = (async () => {
    let sent = 0;
    while (navigator.onLine !== false) {
      const [first] = pending();
      if (!first) break;
      try {
        const answer = await send(first);
        drop(first);
        sent += 1;
        onSent(first, answer);
      } catch (error) {
        if (isOffline(error)) break;
        drop(first);
        onRefused(first, error);
      }
    }
    return sent;
  })().finally(() => { flushing = null; });
  return flushing;
}

function drop(entry) {
  save(pending().filter((e) => e.queuedAt !== entry.queuedAt || e.stopId !== entry.stopId || e.kind !== entry.kind));
}

/** Thrown before trying when the phone knows it is offline (navigator.onLine false). */
export class OfflineError extends ApiError {
  constructor() {
    super(0, "You are offline.");
  }
}
