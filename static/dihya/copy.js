/* "Copy" buttons: copy the text of the element named by data-copy, and say so on the button.
   The Clipboard API needs a secure context (https or localhost); elsewhere the text is
   selected and copied with the older execCommand. */
(function () {
  "use strict";
  function copied(button, ok) {
    const label = button.dataset.label || button.textContent;
    button.dataset.label = label;
    button.textContent = ok ? "Copied" : "Select and copy by hand";
    button.classList.toggle("dihya-copied", ok);
    setTimeout(function () { button.textContent = label; button.classList.remove("dihya-copied"); }, 4000);
  }
  function fallback(target) {
    const range = document.createRange();
    range.selectNodeContents(target);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { return document.execCommand("copy"); } catch (e) { return false; }
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const target = document.querySelector(button.dataset.copy);
    if (!target) return;
    const text = target.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); },
                                               function () { copied(button, fallback(target)); });
    } else {
      copied(button, fallback(target));
    }
  });
})();
