//! TODO(owner): module rss.
