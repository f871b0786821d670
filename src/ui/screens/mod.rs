//! The screens: one function per screen, drawing a view model onto any DrawTarget.
