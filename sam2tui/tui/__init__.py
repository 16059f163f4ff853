"""The Textual front end: the app, its screens and widgets, and the pure layers they draw with.

`viewport` (geometry) and `compose` (overlays) import neither Textual nor the engine; `termcaps` probes the
terminal before the app starts. Importing this package imports nothing heavy.
"""
