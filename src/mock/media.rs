//! (being written)

use super::MockServer;

/// Registers this family's endpoints.
pub(crate) fn install(_server: &MockServer) {}
