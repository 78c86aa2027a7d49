//! The sans-IO protocol core: what WeChat Pay's protocol decides, with no I/O, no runtime and no HTTP
//! client — so it can be tested alone and reused by any transport.

pub(crate) mod retry;
