// The courier's GPS while on duty: navigator.geolocation fixes, numbered per phone (seq) and
// kept in localStorage until the API has them, sent in batches every 10 s or when 20 wait.
// Rejected fixes are dropped; a 409 (not on shift) stops sending until the shift starts.
import { api, fmtTime } from "/static/js/api.js";

const DEVICE_KEY = "velocal.courier.device";
const SEQ_KEY = "velocal.courier.seq";
const FIXES_KEY = "velocal.courier.fixes";
const BATCH_NOW = 20;
const MAX_KEPT = 2000;

/** This phone's id, made once. */
export function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    id = `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

function nextSeq() {
  const seq = Number(localStorage.getItem(SEQ_KEY) || "0") + 1;
  localStorage.setItem(SEQ_KEY, String(seq));
  return seq;
}

export function waitingFixes() {
  try {
    return JSON.parse(localStorage.getItem(FIXES_KEY) || "[]");
  } catch {
    return [];
  }
}

function keep(fixes) {
  localStorage.setItem(FIXES_KEY, JSON.stringify(fixes.slice(-MAX_KEPT)));
}

export class Gps {
  constructor(statusLine) {
    this.line = statusLine;
    this.watch = null;
    this.blocked = false; // after a 409 until the shift is started again
    this.lastFix = null;
    this.sending = false;
    this.problem = "";
    this.lastSent = 0;
    this.timer = setInterval(() => this.tick(), 1000);
  }

  get running() {
    return this.watch !== null;
  }

  /** Collect and send fixes (the shift is on duty). */
  start() {
    this.blocked = false;
    this.problem = "";
    if (this.watch !== null) {
      this.show();
      return;
    }
    if (!("geolocation" in navigator)) {
      this.problem = "GPS off: this phone has no location";
      this.show();
      return;
    }
    this.watch = navigator.geolocation.watchPosition(
      (position) => this.onFix(position),
      (error) => this.onError(error),
      { enableHighAccuracy: true, maximumAge: 5000, timeout: 60000 },
    );
    this.show();
  }

  /** Stop collecting (off duty); fixes already taken are still sent while they can be. */
  stop() {
    if (this.watch !== null) navigator.geolocation.clearWatch(this.watch);
    this.watch = null;
    this.show();
  }

  onFix(position) {
    const { latitude, longitude, accuracy } = position.coords;
    this.problem = "";
    // When the fix was taken; a clock that is far off (some emulators stamp 1970) is the
    // phone's own time instead, or the API would refuse every fix as too old.
    const stamp = Math.abs(position.timestamp - Date.now()) < 3600e3 ? position.timestamp : Date.now();
    this.lastFix = new Date(stamp);
    keep([...waitingFixes(), {
      seq: nextSeq(),
      lat: latitude,
      lon: longitude,
      accuracy_m: accuracy,
      at: this.lastFix.toISOString(),
    }]);
    this.show();
    if (waitingFixes().length >= BATCH_NOW) this.send();
  }

  onError(error) {
    this.problem = error.code === error.PERMISSION_DENIED
      ? "GPS off: allow location for this site in the phone's settings"
      : "GPS: no fix yet (looking for satellites)";
    this.show();
  }

  tick() {
    const every = window.velocalGpsMs || 10000;
    if (Date.now() - this.lastSent >= every) this.send();
  }

  async send() {
    const fixes = waitingFixes().slice(0, 500);
    if (this.sending || this.blocked || !fixes.length || navigator.onLine === false) {
      this.show();
      return;
    }
    this.sending = true;
    this.lastSent = Date.now();
    try {
      const answer = await api("/api/courier/positions", { method: "POST", body: { device_id: deviceId(), fixes } });
      // Stored, already stored or rejected: the API has had its say on each of them.
      const done = new Set(fixes.map((f) => f.seq));
      keep(waitingFixes().filter((f) => !done.has(f.seq)));
      const [refused] = answer.rejected;
      this.problem = refused ? `GPS: a fix was refused (${refused.reason})` : "";
    } catch (error) {
      if (error.status === 409) {
        this.blocked = true;
        this.problem = "GPS paused: start your shift to send positions";
      } else if (error.status === 422) {
        const done = new Set(fixes.map((f) => f.seq)); // never valid: do not send again
        keep(waitingFixes().filter((f) => !done.has(f.seq)));
      } else if (error.status !== 0) {
        this.problem = `GPS: ${error.message}`;
      }
    } finally {
      this.sending = false;
      this.show();
    }
  }

  show() {
    if (!this.line) return;
    const waiting = waitingFixes().length;
    let text;
    if (this.problem) text = this.problem;
    else if (this.watch === null) text = waiting ? `GPS: off duty, ${waiting} fixes waiting` : "GPS: off duty";
    else if (!this.lastFix) text = "GPS: waiting for a fix…";
    else {
      const state = waiting === 0 ? "sent" : navigator.onLine === false ? `${waiting} waiting (offline)` : `${waiting} waiting to send`;
      text = `GPS: last fix ${fmtTime(this.lastFix.toISOString())}, ${state}`;
    }
    this.line.textContent = text;
    this.line.dataset.state = this.problem ? "problem" : this.watch === null ? "off" : "on";
  }
}
