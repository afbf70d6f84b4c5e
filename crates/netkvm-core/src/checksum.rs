//! TODO(owner): module checksum.
