"""Controllers: start background work for the window and land its results in AppState."""
