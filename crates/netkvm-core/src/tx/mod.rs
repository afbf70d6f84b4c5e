//! TODO(owner): module tx.
