//! The sans-IO protocol core: what WeChat Pay's protocol decides — paths and templates, options, building
//! and signing a request, verifying an answer, when to retry — with no I/O, no runtime and no HTTP client,
//! so it can be tested alone and driven by any transport.

pub(crate) mod apiv2;
pub mod formatter;
pub(crate) mod listing;
pub(crate) mod multipart;
pub(crate) mod options;
pub mod path;
pub(crate) mod request;
pub(crate) mod retry;
pub(crate) mod sensitive;
pub mod sign;
pub mod template;
pub mod verify;
