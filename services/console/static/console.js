// The console's only script beyond htmx: live lists. An element with data-live="<url>"
// listens to that server-sent-event stream and reloads itself (hx-get, trigger "refresh")
// whenever the stream says its list changed, and stops listening when the stream says the
// person's session has ended.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-live]").forEach(function (el) {
    var source = new EventSource(el.getAttribute("data-live"));
    source.addEventListener("changed", function () { htmx.trigger(el, "refresh"); });
    source.addEventListener("ended", function () { source.close(); });
    window.addEventListener("beforeunload", function () { source.close(); });
  });
});
