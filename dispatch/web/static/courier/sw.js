// The courier app's service worker (scope /courier/): keeps the app shell so the app opens
// without a connection. The installed app starts at /courier/ (inside the scope); the server
// answers the page at /courier, so navigations to /courier/ are answered with /courier's page
// (network first, the cached copy offline). API calls are never cached here: /api/ requests
// are left to the network (the app keeps its own offline queue and last route).
const CACHE = "velocal-courier-v1";
const PAGE = "/courier";
const SHELL = [
  PAGE,
  "/static/css/velocal.css",
  "/static/vendor/leaflet/leaflet.css",
  "/static/vendor/leaflet/leaflet.js",
  "/static/js/api.js",
  "/static/js/map.js",
  "/static/js/session.js",
  "/static/js/courier.js",
  "/static/js/courier_view.js",
  "/static/js/courier_queue.js",
  "/static/js/courier_gps.js",
  "/static/img/icon.svg",
  "/static/courier/icon-192.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, { credentials: "same-origin" }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});

/** Network first (and refresh the cached copy); the cached copy when the network fails. */
async function networkFirst(request, cacheKey) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    // A logged-out page is sent to /login: pass the redirect on, never cache it.
    if (response.redirected) return Response.redirect(response.url, 303);
    if (response.ok) await cache.put(cacheKey, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(cacheKey, { ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // network only
  if (request.mode === "navigate" && (url.pathname === "/courier/" || url.pathname === PAGE)) {
    // Ask for /courier itself (no redirect), keeping ?shift=.
    const page = new Request(PAGE + url.search, { credentials: "same-origin" });
    event.respondWith(networkFirst(page, PAGE));
    return;
  }
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(networkFirst(request, url.pathname));
  }
});
