//! TODO(owner): module rx.
