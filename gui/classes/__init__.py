"""The class panel: class table with colours, names, visibility and pixel counts."""
