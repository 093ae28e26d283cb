// creditshare console: the few things a page does by itself. Served from the gateway (no CDN, no build step).
"use strict";

const RESIDENT_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RESIDENT_CHECK = "10X98765432";
const USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

// The same rules as domain/identity.py; the server checks again whatever this says.
function idProblem(kind, raw) {
  const value = raw.normalize("NFKC").trim().toUpperCase();
  if (!value) return "required";
  if (kind === "resident_id") {
    if (!/^[1-9][0-9]{16}[0-9X]$/.test(value)) return "format";
    let sum = 0;
    for (let i = 0; i < 17; i++) sum += Number(value[i]) * RESIDENT_WEIGHTS[i];
    return RESIDENT_CHECK[sum % 11] === value[17] ? null : "check";
  }
  if (kind === "uscc") {
    if (value.length !== 18 || [...value].some((c) => !USCC_CHARS.includes(c))) return "format";
    let sum = 0;
    for (let i = 0; i < 17; i++) sum += USCC_CHARS.indexOf(value[i]) * USCC_WEIGHTS[i];
    return USCC_CHARS[(31 - (sum % 31)) % 31] === value[17] ? null : "check";
  }
  return /^[0-9A-Z \-/.]{1,64}$/.test(value) ? null : "format";
}

function wireQueryForm(form) {
  const kind = form.querySelector("#id_type");
  const input = form.querySelector("#id_number");
  const error = form.querySelector("#id_number-error");
  const messages = { check: form.dataset.msgCheck, format: form.dataset.msgFormat, required: form.dataset.msgRequired };
  const show = (final) => {
    const problem = idProblem(kind.value, input.value);
    const complete = final || kind.value === "other" || input.value.trim().length >= 18;
    const visible = problem && complete;
    error.textContent = visible ? messages[problem] : "";
    input.classList.toggle("invalid", Boolean(visible));
    return !problem;
  };
  input.addEventListener("input", () => show(false));
  kind.addEventListener("change", () => show(false));
  form.addEventListener("submit", (event) => {
    let ok = show(true);
    for (const name of ["consent_ref"]) {
      const field = form.querySelector("#" + name);
      const missing = !field.value.trim();
      form.querySelector("#" + name + "-error").textContent = missing ? messages.required : "";
      ok = ok && !missing;
    }
    if (!ok) event.preventDefault();
  });
}

function wireVerify(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    const out = form.querySelector(".verify-result");
    button.disabled = true;
    try {
      const response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
      const answer = await response.json();
      const match = response.ok && answer.match === true;
      out.textContent = (match ? "✓ " + button.dataset.ok : "✗ " + button.dataset.bad) + (answer.block ? " #" + answer.block : "");
      out.className = "verify-result " + (match ? "match" : "mismatch");
    } catch (e) {
      out.textContent = "✗ " + button.dataset.bad;
      out.className = "verify-result mismatch";
    } finally {
      button.disabled = false;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const query = document.getElementById("query-form");
  if (query) wireQueryForm(query);
  document.querySelectorAll("form.verify-form").forEach(wireVerify);
  document.querySelectorAll("[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
});
