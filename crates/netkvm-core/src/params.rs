//! TODO(owner): module params.
