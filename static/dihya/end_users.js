// The client form: ticking "Serves end users" shows, beside the box and before saving, what
// the client's callers will get (the warning the server rendered from the last day's calls).
(function () {
  "use strict";
  const warning = document.getElementById("end-users-warning");
  const box = document.getElementById("id_end_users");
  if (!warning || !box) return;
  const row = box.closest(".form-row") || box.parentElement;
  row.after(warning);
  function update() { warning.hidden = !box.checked; }
  box.addEventListener("change", update);
  update();
})();
