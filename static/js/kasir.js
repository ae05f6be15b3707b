/* Kasir page behaviour. No inline scripts (CSP): everything hangs off data- attributes. */
(function () {
  "use strict";

  const wibClock = new Intl.DateTimeFormat("id-ID", {
    timeZone: "Asia/Jakarta", weekday: "short", day: "2-digit", month: "short",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function tickClocks() {
    const text = wibClock.format(new Date()) + " WIB";
    document.querySelectorAll("[data-clock]").forEach((el) => { el.textContent = text; });
  }

  function tickCountdowns() {
    const now = Date.now();
    document.querySelectorAll("[data-expires-at]").forEach((el) => {
      const left = Math.max(0, Math.floor((Date.parse(el.dataset.expiresAt) - now) / 1000));
      const text = el.querySelector("[data-countdown-text]");
      const value = String(Math.floor(left / 60)).padStart(2, "0") + ":" + String(left % 60).padStart(2, "0");
      if (text && text.textContent !== value) text.textContent = value;
      el.classList.toggle("urgent", left < 60);
    });
  }

  function connectionBanner(show) {
    const banner = document.querySelector("[data-conn-banner]");
    if (banner) banner.hidden = !show;
  }

  function modalOpen() {
    return Boolean(document.querySelector("#modal [data-modal]"));
  }

  function scanInput() {
    return document.querySelector("[data-scan-input]");
  }

  function focusScan() {
    const input = scanInput();
    if (input && !modalOpen()) input.focus();
  }

  function closeModal() {
    const modal = document.getElementById("modal");
    if (modal) modal.innerHTML = "";
    focusScan();
    // The money bar shows at once what the modal left behind (an open QR, what is still due).
    if (window.htmx) window.htmx.trigger(document.body, "kasir:money");
  }

  // kasir/money.py's parse_rupiah, rule for rule and with its messages: the preview never accepts an
  // amount the server refuses ("-50000", "15.000,5") nor reads one differently.
  const GROUPED = /^\d{1,3}(\.\d{3})+$/;
  const PLAIN = /^\d+$/;
  const MAX_RUPIAH = 999999999999;

  function parseRupiah(text, allowZero) {
    const cleaned = String(text).trim().replace(/^rp\.?\s*/i, "").replaceAll(" ", "");
    if (!cleaned) return { error: "Nominal wajib diisi." };
    if (cleaned.startsWith("-")) return { error: "Nominal tidak boleh negatif." };
    const comma = cleaned.indexOf(",");
    let whole = comma < 0 ? cleaned : cleaned.slice(0, comma);
    const fraction = comma < 0 ? "" : cleaned.slice(comma + 1);
    if (comma >= 0 && fraction.replace(/^0+/, "").replace(/0+$/, "")) {
      return { error: "Nominal harus bilangan bulat rupiah (tanpa sen)." };
    }
    if (comma >= 0 && !fraction) return { error: "Nominal tidak valid." };
    if (GROUPED.test(whole)) whole = whole.replaceAll(".", "");
    else if (!PLAIN.test(whole)) return { error: "Nominal tidak valid. Contoh: 15000 atau 15.000." };
    const value = Number(whole);
    if (value === 0 && !allowZero) return { error: "Nominal harus lebih dari 0." };
    if (value > MAX_RUPIAH) return { error: "Nominal terlalu besar." };
    return { value: value };
  }

  function rupiah(amount) {
    return "Rp " + amount.toLocaleString("id-ID");
  }

  function updateChangePreview(form) {
    const input = form.querySelector("[data-tendered-input]");
    const preview = form.querySelector("[data-change-preview]");
    if (!input || !preview) return;
    // A typed part amount ("Bayar sebagian tunai") is what this cash pays; otherwise all that is due.
    const part = form.querySelector("[name=amount]");
    const partAmount = part && part.value.trim() ? parseRupiah(part.value, false) : null;
    const total = partAmount && !partAmount.error ? partAmount.value : parseInt(form.dataset.total, 10);
    preview.classList.remove("short");
    if (!input.value.trim()) {
      preview.textContent = "";
      return;
    }
    const parsed = parseRupiah(input.value, false);  // sales.pay_cash: allow_zero=False
    const tendered = parsed.value;
    if (parsed.error) {
      preview.textContent = parsed.error;
      preview.classList.add("short");
    } else if (tendered < total) {
      preview.textContent = "Kurang " + rupiah(total - tendered);
      preview.classList.add("short");
    } else {
      preview.textContent = "Kembalian " + rupiah(tendered - total);
    }
  }

  // "Batal" on a QR asks first; the question sits outside the polled status so its swaps leave it alone.
  function askCancel(show) {
    const ask = document.querySelector("[data-cancel-ask]");
    if (!ask) return;
    ask.hidden = !show;
    if (show) ask.querySelector("[data-keep-qr]").focus();
  }

  function cancelAskOpen() {
    return Boolean(document.querySelector("[data-cancel-ask]:not([hidden])"));
  }

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && cancelAskOpen()) {
      event.preventDefault();
      askCancel(false);
      return;
    }
    if (event.key === "Escape" && modalOpen()) {
      event.preventDefault();
      closeModal();
      return;
    }
    // Only keys Chromium leaves alone (F2, F4, F8, F9, Ctrl+Delete): F6/F7 would move focus or turn on caret browsing.
    const combo = (event.ctrlKey ? "Control+" : "") + event.key;
    if (!/^(F\d+|Control\+Delete)$/.test(combo)) return;
    const focusTarget = document.querySelector(`[data-shortcut-focus="${combo}"]`);
    if (focusTarget && !modalOpen()) {
      event.preventDefault();
      focusTarget.focus();
      focusTarget.select();
      return;
    }
    const button = document.querySelector(`[data-shortcut="${combo}"]`);
    if (button && !button.disabled && !modalOpen()) {
      event.preventDefault();
      window.htmx.process(button); // a key can beat htmx's settle step on freshly swapped content
      button.click();
    }
  });

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (target.closest("[data-close-modal]") || target.matches("[data-modal]")) {
      closeModal();
      return;
    }
    if (target.closest("[data-ask-cancel]") || target.closest("[data-keep-qr]")) {
      askCancel(Boolean(target.closest("[data-ask-cancel]")));
      return;
    }
    if (target.closest("[data-retry-poll]")) {
      const poll = document.querySelector("[data-poll]");
      if (poll) window.htmx.trigger(poll, "kasir:retry");
      return;
    }
    const step = target.closest("[data-step-for]");
    if (step) { // the return modal's −/+ : whole units between 0 and what is left to return
      const input = document.getElementById(step.dataset.stepFor);
      const value = (parseInt(input.value, 10) || 0) + Number(step.dataset.step);
      input.value = String(Math.max(0, Math.min(Number(input.dataset.max), value)));
      return;
    }
    const key = target.closest("[data-keypad-for] [data-key]");
    if (key) {
      const input = document.getElementById(key.closest("[data-keypad-for]").dataset.keypadFor);
      if (key.dataset.key === "C") input.value = "";
      else if (key.dataset.key === "⌫") input.value = input.value.slice(0, -1);
      else if (input.value.length < (input.maxLength > 0 ? input.maxLength : 8)) input.value += key.dataset.key;
      input.focus();
      return;
    }
    // A keyboard-wedge scanner types into whatever has focus: give it back to the scan box.
    if (!target.closest("input, select, textarea, summary, details, a, [data-modal]")) {
      window.setTimeout(focusScan, 0);
    }
  });

  document.addEventListener("input", (event) => {
    const form = event.target.closest("[data-cash-form]");
    if (form) updateChangePreview(form);
  });

  // Tapping a quantity selects it, so the typed number replaces it.
  document.addEventListener("focusin", (event) => {
    if (event.target.matches && event.target.matches("[data-qty-input]")) event.target.select();
  });

  function clearErrorToasts() {
    document.querySelectorAll("#toast .toast-error, #toast .toast-info").forEach((toast) => toast.remove());
  }

  function showToast(message) {
    const area = document.getElementById("toast");
    if (!area) return;
    const toast = document.createElement("div");
    toast.className = "toast toast-error";
    toast.setAttribute("role", "alert");
    toast.setAttribute("data-autohide", "");
    toast.textContent = message;
    area.replaceChildren(toast);
    scheduleToastHide();
  }

  // A status poll that cannot reach the server says so and keeps polling: it recovers by itself.
  // Any other request that fails tells the cashier instead of silently doing nothing.
  ["htmx:sendError", "htmx:responseError", "htmx:timeout"].forEach((name) => {
    document.addEventListener(name, (event) => {
      const elt = event.detail.elt;
      if (elt.matches && elt.matches("[data-poll], [data-display-poll], [data-background-poll]")) {
        connectionBanner(true);
      } else if (name === "htmx:responseError") {
        showToast("Terjadi kesalahan pada sistem. Coba lagi.");
      } else {
        showToast("Koneksi ke server terputus. Periksa lalu coba lagi.");
      }
    });
  });

  // The server answered a poll: with a fresh status element (afterRequest fires on the replaced, detached
  // one), or with nothing new (HX-Reswap: none leaves the element in place, and afterRequest fires on it).
  document.addEventListener("htmx:load", (event) => {
    if (event.detail.elt.id === "qris-status") connectionBanner(false);
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const elt = event.detail.elt;
    if (event.detail.successful && elt.matches && elt.matches("[data-poll], [data-display-poll], [data-background-poll]")) {
      connectionBanner(false);
    }
  });

  document.addEventListener("htmx:afterRequest", (event) => {
    const source = event.detail.elt;
    if (source.matches && source.matches("[data-scan-form]") && event.detail.xhr) {
      const input = scanInput();
      if (event.detail.xhr.status === 200) {
        input.value = "";
        window.htmx.trigger(input, "kasir:reset");
        focusScan();
      } else if (!modalOpen()) {
        // Refused (unknown code, several matches): keep the text to read, selected so the next scan replaces it.
        input.focus();
        input.select();
      }
    }
  });

  // The line just added or changed: bring it into view in the cart's scroll area and flash it once.
  function showChangedLine(cart) {
    const line = cart.querySelector("[data-changed]");
    if (!line) return;
    line.scrollIntoView({ block: "nearest" });
    line.classList.add("flash");
  }

  document.addEventListener("htmx:load", (event) => {
    const elt = event.detail.elt;
    if (elt.id === "cart") showChangedLine(elt);
    // A success screen (paid, shift opened) is no place for an earlier error.
    if (elt.matches && (elt.matches("[data-success]") || elt.querySelector("[data-success]"))) clearErrorToasts();
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    // The cart or a modal answered: an error toast about an earlier action is stale now.
    if (event.detail.target.id === "modal" || event.detail.target.id === "cart") clearErrorToasts();
    if (event.detail.target.id === "modal") {
      const auto = event.detail.target.querySelector("[autofocus]");
      if (auto) auto.focus();
    } else if (event.detail.target.id === "cart" || event.detail.target.id === "toast") {
      focusScan();
    }
    scheduleToastHide();
    scheduleAutoClose();
  });

  // A supervisor approved (kasir.auth.approval): the action's answer is in, the approval modal goes.
  document.addEventListener("kasir:approved", closeModal);

  function scheduleAutoClose() {
    document.querySelectorAll("[data-auto-close]:not([data-closing])").forEach((el) => {
      el.setAttribute("data-closing", "");
      window.setTimeout(() => { if (document.body.contains(el)) closeModal(); }, parseInt(el.dataset.autoClose, 10));
    });
  }

  function scheduleToastHide() {
    document.querySelectorAll("[data-autohide]:not([data-hiding])").forEach((toast) => {
      toast.setAttribute("data-hiding", "");
      window.setTimeout(() => toast.remove(), 5000);
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    tickClocks();
    tickCountdowns();
    window.setInterval(tickClocks, 1000);
    window.setInterval(tickCountdowns, 250);
    scheduleToastHide();
  });
})();
