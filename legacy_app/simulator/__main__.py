"""``python -m legacy_app.simulator``: serve the simulator until Ctrl-C or SIGTERM."""

from legacy_app.simulator._process import simulator_command

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    simulator_command(prog_name="python -m legacy_app.simulator")
