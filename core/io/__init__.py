"""Reading and writing user files: micrographs, masks, polygons. All writes are atomic."""
