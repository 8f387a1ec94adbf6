"""How everything outside the server talks to a control plane: one HTTP client (`http.py`) with
one mapping of failures into rigshift's error tree, used by the CLI, `rigshift bench --rig`, the
agent (join, telemetry, power caps) and the model cache; and the `ControlPlane` the management
commands call, over a database or over HTTP (`control_plane.py`)."""
