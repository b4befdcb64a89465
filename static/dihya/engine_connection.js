// The engine form's "Test connection": posts the form's current (unsaved) values to the
// console's check and shows what it found: the models, or the cause and the fix.
(function () {
  "use strict";
  const box = document.getElementById("engine-connection");
  if (!box) return;
  const button = box.querySelector("[data-dihya-connection]");
  const result = box.querySelector(".dihya-connection-result");

  function line(tag, text, cls) {
    const el = document.createElement(tag);
    el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }

  function show(answer) {
    result.replaceChildren();
    result.hidden = false;
    result.className = "dihya-connection-result " + (answer.ok ? "dihya-ok" : "dihya-failed");
    if (answer.ok) {
      const seconds = answer.seconds.toFixed(2);
      result.append(line("strong", "Connected in " + seconds + " s."));
      if (answer.models) {
        result.append(line("p", answer.models.length + " model(s) offered:"));
        const list = document.createElement("ul");
        list.className = "dihya-models";
        answer.models.forEach((m) => list.append(line("li", m)));
        result.append(list);
      } else {
        result.append(line("p", "This provider's API does not list its models."));
      }
      (answer.notes || []).forEach((n) => result.append(line("p", n, "dihya-warning")));
    } else {
      result.append(line("strong", answer.cause));
      result.append(line("p", answer.fix, "dihya-fix"));
    }
  }

  button.addEventListener("click", function () {
    const form = button.closest("form");
    const data = new FormData(form);
    if (box.dataset.engine) data.set("engine", box.dataset.engine);
    button.disabled = true;
    result.hidden = false;
    result.className = "dihya-connection-result";
    result.textContent = "Testing…";
    fetch(box.dataset.url, {method: "POST", body: data, credentials: "same-origin",
                            headers: {"Accept": "application/json"}})
      .then((r) => r.json().then((body) => ({status: r.status, body})))
      .then(({status, body}) => show(status === 200 ? body :
        {ok: false, cause: "The test could not run (HTTP " + status + ").",
         fix: (body.error && body.error.message) || "Reload the page and try again."}))
      .catch((e) => show({ok: false, cause: "The test could not run: " + e, fix: "Reload the page."}))
      .finally(() => { button.disabled = false; });
  });
})();
