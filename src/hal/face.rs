//! Runs the buttons and the display beside the box: presses become commands, the published status becomes frames.
