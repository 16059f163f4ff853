"""Everything that runs a model. Nothing here imports Textual."""
