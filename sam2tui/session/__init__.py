"""The annotation state and its storage: store (the session file), history (undo/redo), review (lost and
doubtful frames), spans (what a correction re-tracks), lanes (the results and per-frame states the UI
shows). The plain values they store live in `sam2tui.values`.

Import the submodules themselves: this package imports nothing.
"""
