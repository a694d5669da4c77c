// tocsin console: refresh the parts of a page marked data-refresh="URL" while the tab is visible, and show
// times marked data-local="ISO 8601" in the viewer's own time zone. No framework, no build step.
(function () {
  "use strict";
  var EVERY = 3000;
  var format = new Intl.DateTimeFormat(undefined, {
    weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });

  function localTimes(root) {
    root.querySelectorAll("[data-local]").forEach(function (element) {
      element.textContent = "(" + format.format(new Date(element.dataset.local)) + " yours)";
    });
  }

  // Whether someone is filling in a form of the part: a field with the focus, or one changed from its default.
  function busy(part) {
    if (part.contains(document.activeElement) && document.activeElement.matches("input, select, textarea")) return true;
    return Array.prototype.some.call(part.querySelectorAll("input:not([type=hidden]), textarea, select"), function (field) {
      if (field.tagName === "SELECT") {  // without a default, a select shows its first option
        var first = Array.prototype.findIndex.call(field.options, function (option) { return option.defaultSelected; });
        return field.selectedIndex !== Math.max(first, 0);
      }
      return field.value !== field.defaultValue;
    });
  }

  function refresh(part, last) {
    if (document.hidden) return;
    fetch(part.dataset.refresh, { credentials: "same-origin", cache: "no-store" })
      .then(function (answer) {
        if (answer.status === 401) { window.location.reload(); return null; }
        return answer.ok ? answer.text() : null;
      })
      .then(function (html) {
        if (html === null) return;
        part.dataset.refreshes = String(Number(part.dataset.refreshes || 0) + 1);
        // Swapped only when it changed (a screen reader hears the change, not every refresh), and never under
        // someone filling in one of its forms.
        if (html === last.html || busy(part)) return;
        last.html = html;
        part.innerHTML = html;
        localTimes(part);
      })
      .catch(function () { /* the server is away: try again at the next tick */ });
  }

  localTimes(document);
  document.querySelectorAll("[data-refresh]").forEach(function (part) {
    var last = { html: null };
    window.setInterval(function () { refresh(part, last); }, EVERY);
  });
})();
