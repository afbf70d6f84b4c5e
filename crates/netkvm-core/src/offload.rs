//! TODO(owner): module offload.
