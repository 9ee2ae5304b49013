"""The mask editor: tools on the viewer's canvas, undoable edits, saving, autosave and recovery."""
