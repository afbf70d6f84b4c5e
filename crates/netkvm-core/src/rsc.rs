//! TODO(owner): module rsc.
