"""`sam2tui track`: the headless command (its CLI and the prompts file). It sits above engine, session and
export, and wires them together; the engine itself knows nothing of sessions or exports."""
