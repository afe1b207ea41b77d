//! theary (in progress)
