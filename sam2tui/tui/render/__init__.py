"""Turning composed RGB canvases into terminal output: half blocks, Sixel, kitty graphics."""
