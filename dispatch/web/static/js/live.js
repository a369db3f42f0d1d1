// Live updates over Server-Sent Events, with the page's poll as the fallback.
//
// liveUpdates(url, { poll, change, position, pollMs }) opens an EventSource on `url` when
// start() is called. While the stream is open the poll runs rarely: `change` and `position`
// (debounced) run on each pushed message, and `poll` once on every (re)connection to catch up
// (and, as a safety net, every six poll intervals).
// When the stream fails, the poll takes over at once (schedulePoll is then the poll loop's
// timer) until the browser's automatic reconnection succeeds.
const DEBOUNCE_MS = 250;
const SAFETY_FACTOR = 6;

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; fn(...args); }, ms);
  };
}

export function liveUpdates(url, { poll, change = poll, position = change, pollMs = 5000 }) {
  let source = null;
  let open = false;
  let timer = null;
  const onChange = debounce(() => change(), DEBOUNCE_MS);
  const onPosition = debounce(() => position(), DEBOUNCE_MS);

  /** The poll loop's next turn (one timer at a time). While the stream is open the poll still
   * runs, six times less often: a safety net for changes made outside velocal's transitions
   * (a fix by hand in the database) and for a stream that silently stalls. */
  function schedulePoll(ms = pollMs) {
    if (timer !== null) return;
    timer = setTimeout(() => { timer = null; poll(); }, open ? pollMs * SAFETY_FACTOR : ms);
  }

  function start() {
    if (typeof window.EventSource !== "function") { schedulePoll(0); return; }
    source = new EventSource(url, { withCredentials: true });
    source.addEventListener("open", () => {
      open = true;
      if (timer !== null) { clearTimeout(timer); timer = null; }
      poll();  // catch up on what happened before the stream opened
    });
    source.addEventListener("change", onChange);
    source.addEventListener("position", onPosition);
    source.addEventListener("resync", () => poll());
    source.addEventListener("error", () => {
      open = false;
      if (timer !== null) { clearTimeout(timer); timer = null; }  // the safety net's long wait
      schedulePoll(0);
      // A refused stream (401, 403, 404, 503) is not retried by the browser: stay on the poll.
    });
  }

  return {
    start,
    schedulePoll,
    get open() { return open; },
    close() { if (source) source.close(); open = false; },
  };
}
