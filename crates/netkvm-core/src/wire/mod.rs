//! TODO(owner): module wire.
