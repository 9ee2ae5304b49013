"""The image viewer: image and mask overlay, zoom and pan, display levels, overlay controls."""
