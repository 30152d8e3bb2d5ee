// Renders every Vega-Lite spec on the page. The spec travels as JSON in a
// <script type="application/json"> element (no inline script, so the CSP can forbid them),
// and expressions run through vega-interpreter, so the CSP can forbid eval too.
(function () {
  "use strict";
  function renderCharts(root) {
    if (!window.vegaEmbed || !window.vega || !window.vega.expressionInterpreter) return;
    root.querySelectorAll("div.vega[data-spec-id]").forEach(function (el) {
      if (el.dataset.rendered) return;
      var source = document.getElementById(el.dataset.specId);
      if (!source) return;
      el.dataset.rendered = "1";
      window.vegaEmbed(el, JSON.parse(source.textContent), {
        actions: false, renderer: "svg", ast: true, expr: window.vega.expressionInterpreter
      }).catch(function (err) { el.textContent = "Chart unavailable: " + err; });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { renderCharts(document); });
  document.addEventListener("htmx:afterSwap", function (event) { renderCharts(event.target); });
})();

// The running timer of the MTM and CCM forms: shows elapsed minutes:seconds since the
// server-stamped start. Without JavaScript the form's start/stop posts still work.
(function () {
  "use strict";
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    document.querySelectorAll("[data-timer-start]").forEach(function (el) {
      var started = Date.parse(el.dataset.timerStart);
      if (isNaN(started)) return;
      var seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
      el.textContent = Math.floor(seconds / 60) + ":" + pad(seconds % 60);
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
})();
