//! The box's face without hardware: pure screens drawn from a view model onto any
//! `DrawTarget`, and button presses turned into commands. No I/O, no clock reads.

pub mod buttons;
pub mod cover;
pub mod frame;
pub mod keymap;
pub mod present;
pub mod screens;
pub mod view;
