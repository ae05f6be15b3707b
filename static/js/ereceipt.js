// The public e-receipt (/r/<token>): "Simpan/Cetak" opens the browser's print dialog, where a phone can also
// save the receipt as PDF. The button stays hidden without JavaScript, so it never does nothing.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-print-receipt]")) {
    button.hidden = false;
    button.addEventListener("click", () => window.print());
  }
});
