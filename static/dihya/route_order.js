// The fallback order is saved as soon as a row is dropped elsewhere: when the engines of the
// saved rows stand in another order than when the page was loaded, the form is saved ("Save
// and continue editing"), so the very next generation uses the new order.
//
// The order is read from the rows themselves (each saved row's id, top to bottom), never from
// django-admin-sortable2's hidden position fields: it renumbers them 1..n on every drop, so
// after a first reorder the positions read "1,2,3" before and after the next one. Anything else
// in the table (Add another, a new row's engine, Delete) leaves that order alone and waits for
// the Save button.
(function () {
  "use strict";
  const form = document.getElementById("route_form");
  const body = form && form.querySelector(".inline-group .sortable tbody");
  if (!body) return;
  const order = () => [...body.querySelectorAll("tr.has_original")]
    .map((row) => row.querySelector('input[type="hidden"][name$="-id"]'))
    .map((input) => (input ? input.value : "")).join();
  const loaded = order();
  let saving = false;
  function saveIfMoved() {
    setTimeout(() => {
      if (saving || order() === loaded) return;
      const save = form.querySelector('[name="_continue"]');
      if (!save) return;
      saving = true;
      form.requestSubmit(save);
    }, 50);
  }
  // Native drag and drop ends with dragend/drop; SortableJS's fallback mode with mouseup.
  ["dragend", "drop", "mouseup", "touchend"].forEach((type) =>
    body.addEventListener(type, saveIfMoved));
})();
