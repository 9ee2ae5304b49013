"""File > Export…: masks, polygons and measurements of chosen images in chosen formats."""
