"""The annotation state and its storage: model (values), store (the session file), history (undo/redo),
review (lost and doubtful frames), spans (what a correction re-tracks).

Import the submodules themselves: this package imports nothing, so that `sam2tui.session.model`
stays cheap for the layers below it.
"""
