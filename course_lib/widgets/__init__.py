"""Interactive widgets the lessons use (ipywidgets + matplotlib)."""
