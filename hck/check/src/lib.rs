//! Checks of the hck/ kit that run on Linux.
