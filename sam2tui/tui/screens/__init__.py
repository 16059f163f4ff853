"""Screens of the app: the annotation screen and its dialogs. Import each from its module."""
