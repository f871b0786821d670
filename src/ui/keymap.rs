//! Which command each press of each button sends (configurable per button).
