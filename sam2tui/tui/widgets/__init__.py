"""Textual widgets of the annotation screen (frame canvas, timeline, object list, ...).

Import widgets from their modules; this package imports nothing so that loading one widget stays cheap.
"""
