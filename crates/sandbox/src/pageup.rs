//! PageUp sandbox (in progress).
