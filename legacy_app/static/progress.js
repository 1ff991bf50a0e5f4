// The dashboard's "check in progress" panel: poll the newest run, update the bar, reload at the end.
(function () {
  "use strict";
  var panel = document.getElementById("progress");
  if (!panel) { return; }
  var bar = document.getElementById("progress-bar");
  var text = document.getElementById("progress-text");
  var watched = panel.getAttribute("data-run-id");
  var polls = 0;

  function show(run) {
    panel.hidden = false;
    bar.max = Math.max(run.planned, 1);
    bar.value = run.recorded;
    text.textContent = "Checking " + run.recorded + " of " + run.planned + " sites with the " +
      run.checker + " checker …";
  }

  function poll() {
    polls += 1;
    fetch(panel.getAttribute("data-poll"), { headers: { "Accept": "application/json" } })
      .then(function (resp) { return resp.json(); })
      .then(function (body) {
        var run = body.runs && body.runs[0];
        if (run && run.status === "running") {
          watched = String(run.id);
          show(run);
        } else if (watched) {
          window.location.reload();  // the run ended: show its results
          return;
        }
        // fast while a run is on, slow otherwise (a run may start from elsewhere, e.g. the demo)
        window.setTimeout(poll, watched ? 400 : 3000);
      })
      .catch(function () { if (polls < 1000) { window.setTimeout(poll, 3000); } });
  }
  poll();
})();
