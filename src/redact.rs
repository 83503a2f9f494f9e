//! Keeps secrets out of everything pixelctl prints or writes.

/// What a secret value is shown as, in text and JSON alike.
pub const MASK: &str = "****";
