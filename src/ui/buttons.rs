//! Button edges into presses: debounce, short and long press, auto-repeat (pure).
