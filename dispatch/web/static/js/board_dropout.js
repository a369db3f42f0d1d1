// The board's "Courier dropped out" button on each route card of a planned or running window:
// it asks why, drops the courier out (POST /api/board/shifts/{id}/drop-out, which re-plans
// their windows without them) and says which parcels on their bike need a hand-over.
import { api, errorText, h } from "/static/js/api.js";

/** Windows whose couriers can still drop out of them. */
const RIDING = new Set(["planned", "running"]);

/**
 * A drop-out button on every route card in `container` (cards carry `data-shift-id`).
 * `onDone()` redraws the board; `showMessage(text, kind)` speaks in the plan's message box.
 */
export function addDropOutButtons(container, plan, { onDone, showMessage }) {
  if (!plan || !RIDING.has(plan.window_status)) return;
  for (const card of container.querySelectorAll("article.board-route[data-shift-id]")) {
    if (card.querySelector(".board-dropout")) continue;  // a redraw raced this one
    const shiftId = Number(card.dataset.shiftId);
    const name = card.querySelector("h3")?.textContent?.trim() || `Shift ${shiftId}`;
    const button = h("button", { type: "button", class: "board-dropout" }, "Courier dropped out");
    button.addEventListener("click", () => dropOut(shiftId, name, button, { onDone, showMessage }));
    card.append(h("p", { class: "small" }, button));
  }
}

async function dropOut(shiftId, name, button, { onDone, showMessage }) {
  const reason = window.prompt(`Why did ${name} drop out? Their stops go to the other couriers.`);
  if (reason === null) return;
  if (!reason.trim()) {
    showMessage(`${name} was not dropped out: say why in the reason.`, "error");
    return;
  }
  button.disabled = true;
  try {
    const answer = await api(`/api/board/shifts/${shiftId}/drop-out`, { method: "POST", body: { reason } });
    const handOver = answer.plans.flatMap((plan) => plan.unassigned)
      .filter((item) => /hand it over/.test(item.reason));
    const refused = answer.refused.map((item) => item.reason);
    let text = `${name} dropped out; ${answer.plans.length} window(s) re-planned without them.`;
    if (handOver.length) {
      text += ` Hand over ${handOver.length} parcel(s) still on their bike: `
        + `${handOver.map((item) => item.parcel_id).join(", ")}.`;
    }
    if (refused.length) text += ` Not re-planned: ${refused.join("; ")}`;
    showMessage(text, refused.length ? "error" : "success");
    await onDone();
  } catch (error) {
    showMessage(`${name} was not dropped out: ${errorText(error)}`, "error");
  } finally {
    button.disabled = false;
  }
}
