"""The dataset browser: image list with thumbnails and status, and the problems panel."""
