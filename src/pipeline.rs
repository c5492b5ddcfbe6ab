//! Owned by the core helper (see lib.rs).
