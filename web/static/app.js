// dangan 档案: a little script, no framework. Pages work without it; it adds the
// retailer suggestions while typing and the print button.
(function () {
  "use strict";

  function suggest(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var url = input.getAttribute("data-suggest");
    var timer = null;
    var last = "";
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var text = input.value.trim();
        if (text === last || text.length < 1) { return; }
        last = text;
        fetch(url + "?q=" + encodeURIComponent(text), {
          credentials: "same-origin", headers: { "Accept": "application/json" }
        }).then(function (r) { return r.ok ? r.json() : []; }).then(function (rows) {
          while (list.firstChild) { list.removeChild(list.firstChild); }
          rows.forEach(function (row) {
            var option = document.createElement("option");
            option.value = row.licence_no;          // text, never markup
            option.label = row.name + (row.operator ? " · " + row.operator : "");
            option.textContent = row.name;
            list.appendChild(option);
          });
        }).catch(function () {});
      }, 180);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-suggest]").forEach(suggest);
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();
