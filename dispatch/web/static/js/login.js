// The log-in form: on success, go where the user came from or to their role's page.
import { api, errorText, markFieldErrors } from "/static/js/api.js";

const HOME = { operator: "/setup", dispatcher: "/board", shop: "/shop", courier: "/courier", customer: "/" };
const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");

function safeNext() {
  const next = new URLSearchParams(window.location.search).get("next");
  // Only paths on this site: never an open redirect.
  return next && next.startsWith("/") && !next.startsWith("//") ? next : null;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  const email = form.email.value.trim();
  const password = form.password.value;
  if (!email || !password) {
    errorBox.textContent = "Enter your e-mail and password.";
    errorBox.hidden = false;
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const result = await api("/api/auth/login", { method: "POST", body: { email, password } });
    window.location.assign(safeNext() || HOME[result.user.role] || "/");
  } catch (error) {
    markFieldErrors(form, error);
    errorBox.textContent = errorText(error);
    errorBox.hidden = false;
  } finally {
    button.disabled = false;
  }
});
