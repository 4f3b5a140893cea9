(function () {
  "use strict";
  // Filtering and sorting of the findings tables. The data never reaches this
  // script as code: it only reads textContent and data-* attributes.
  var filter = document.getElementById("filter");
  var severity = document.getElementById("severity");
  var state = document.getElementById("state");
  var counter = document.getElementById("filter-count");
  var groups = Array.prototype.slice.call(document.querySelectorAll(".rule-group"));

  function apply() {
    var q = filter ? filter.value.trim().toLowerCase() : "";
    var sev = severity ? severity.value : "";
    var st = state ? state.value : "";
    var shown = 0;
    var total = 0;
    groups.forEach(function (group) {
      var rows = group.querySelectorAll("tbody tr.finding");
      var visible = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var ok = (!sev || row.getAttribute("data-severity") === sev) &&
                 (!st || row.getAttribute("data-baseline") === st) &&
                 (!q || row.textContent.toLowerCase().indexOf(q) !== -1);
        row.classList.toggle("filtered-out", !ok);
        if (ok) { visible += 1; }
      });
      total += rows.length;
      shown += visible;
      group.classList.toggle("filtered-out", visible === 0);
      var note = group.querySelector(".visible-count");
      if (note) { note.textContent = String(visible); }
    });
    if (counter) {
      counter.textContent = shown === total ? total + " listed findings"
                                            : shown + " of " + total + " listed findings match";
    }
  }

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var text = cell ? cell.textContent.trim() : "";
    if (numeric) { return parseFloat(text) || 0; }
    var rank = cell && cell.getAttribute("data-rank");
    return rank !== null && rank !== undefined ? parseInt(rank, 10) : text.toLowerCase();
  }

  function sortBy(button) {
    var th = button.closest("th");
    var table = th.closest("table");
    var tbody = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "number";
    var asc = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.children, function (other) {
      other.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric);
      var y = cellValue(b, index, numeric);
      var c = x < y ? -1 : (x > y ? 1 : 0);
      return asc ? c : -c;
    });
    rows.forEach(function (row) { tbody.appendChild(row); });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target && target.closest ? target.closest("button.sort") : null;
    if (button) { sortBy(button); }
  });
  [filter, severity, state].forEach(function (control) {
    if (control) { control.addEventListener("input", apply); }
  });
  var controls = document.getElementById("controls");
  if (controls) { controls.hidden = false; }
  apply();
})();
