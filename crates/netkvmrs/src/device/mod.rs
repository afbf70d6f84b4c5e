//! The netkvm-virtio platform implementation on NDIS (see [`hal`]).

pub mod hal;
