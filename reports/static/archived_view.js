// An archived view (reports/history.py archive_views) opens on the month in its address
// (#period=YYYY-MM, the close version's period): the view's own script draws that month's tiles.
(function () {
  "use strict";
  var wanted = /(?:^#|&)period=(\d{4}-\d{2})(?:&|$)/.exec(location.hash);
  var select = document.getElementById("period-select");
  var shown = "";
  if (wanted && select) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === wanted[1]) {
        select.value = wanted[1];
        select.dispatchEvent(new Event("change"));
        shown = wanted[1];
      }
    }
  }
  document.documentElement.setAttribute("data-archived-period", shown);
})();
