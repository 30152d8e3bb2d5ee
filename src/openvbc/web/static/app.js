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
