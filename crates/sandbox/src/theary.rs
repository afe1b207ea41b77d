//! Theary sandbox (in progress).
