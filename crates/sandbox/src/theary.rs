//! Theary sandbox: see the `theary` module once it lands.
