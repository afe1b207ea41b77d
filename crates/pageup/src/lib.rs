//! pageup (in progress)
