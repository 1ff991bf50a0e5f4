// The dashboard's "check in progress" panel: poll the newest run, update the bar, reload at the end.
(function () {
  "use strict";
  var panel = document.getElementById("progress");
  if (!panel) { return; }
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var running = panel.getAttribute("data-run-id");       // the run shown as in progress, if any
  var newest = panel.getAttribute("data-newest-run-id");  // the newest run when the page was made
  var failures = 0;
  var leaving = false;  // a form was sent: its answer replaces this page, so never reload over it
  document.addEventListener("submit", function () { leaving = true; });

  function show(run) {
    panel.hidden = false;
    bar.max = Math.max(run.planned, 1);
    bar.value = run.recorded;
    text.textContent = "Checking " + run.recorded + " of " + run.planned + " sites with the " +
      run.checker + " checker …";
  }

  function poll() {
    fetch(panel.getAttribute("data-poll"), { headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.json(); })
      .then(function (body) {
        if (leaving) { return; }
        failures = 0;
        var run = body.runs && body.runs[0];
        if (run && run.status === "running") {
          running = String(run.id);
          show(run);
        } else if (running || (run && String(run.id) !== newest)) {
          window.location.reload();  // a run ended (maybe one started elsewhere): show its results
          return;
        }
        window.setTimeout(poll, running ? 400 : 1000);
      })
      .catch(function () {
        failures += 1;
        if (failures < 100) { window.setTimeout(poll, 3000); }
      });
  }
  poll();
})();
