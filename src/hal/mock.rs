//! The mock HAL: the box screen drawn in a terminal with half blocks, keys as buttons.
