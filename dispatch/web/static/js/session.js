// Every page: the log-out button.
import { api, errorText, showAlert } from "/static/js/api.js";

const button = document.getElementById("logout");
if (button) {
  button.addEventListener("click", async () => {
    try {
      await api("/api/auth/logout", { method: "POST" });
      window.location.assign("/login");
    } catch (error) {
      showAlert(errorText(error));
    }
  });
}
