//! User-mode NDIS.
