//! [`Pending`]: the future every `*_async` call returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::FutureExt as _;

use crate::client::response::Response;
use crate::error::{Error, Result};

/// A pending result: `Send + 'static`, runs on any executor, and can be waited on from blocking code.
///
/// Every `*_async` call returns one. Await it in async code, or use [`Pending::then`],
/// [`Pending::otherwise`] and [`Pending::wait`], so that PHP's
/// `->postAsync([...])->then(function ($response) {...})->wait()` ports line by line. Nothing is sent until
/// it is awaited or waited on.
///
/// ```
/// use serde_json::json;
///
/// let server = wechatpay::mock::MockServer::start()?;
/// let client = server.client()?;
/// let stock_type = client["v3/marketing/busifavor/stocks/{stock_id}"]
///     .get_async(json!({"stock_id": "100088"}))                          // ->getAsync([...])
///     .then(|res| Ok(res.json::<serde_json::Value>()?["stock_type"].clone())) // ->then(function ($r) {...})
///     .wait()?;                                                          // ->wait()
/// println!("{stock_type}");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[must_use = "a request is sent only when its future is awaited or waited on"]
pub struct Pending<T> {
    fut: BoxFuture<'static, Result<T>>,
}

/// What the `*_async` verbs return: a [`Pending`] [`Response`]. Await it, or [`Pending::wait`] on it.
///
/// ```
/// # let server = wechatpay::mock::MockServer::start()?;
/// # let client = server.client()?;
/// let stock = serde_json::json!({"stock_id": "100088"});
/// let future: wechatpay::ResponseFuture = client["v3/marketing/busifavor/stocks/{stock_id}"].get_async(stock);
/// let res = futures::executor::block_on(future)?; // any executor; or `.await` in async code
/// assert_eq!(res.status(), 200);
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub type ResponseFuture = Pending<Response>;

impl<T: Send + 'static> Pending<T> {
    pub(crate) fn new(fut: impl Future<Output = Result<T>> + Send + 'static) -> Self {
        Pending { fut: fut.boxed() }
    }

    /// Runs `on_fulfilled` with the value once it arrives (PHP's promise `->then()`); errors pass through.
    ///
    /// ```no_run
    /// # fn demo(client: &wechatpay::Client) -> Result<(), wechatpay::Error> {
    /// client["v3/marketing/busifavor/stocks/{stock_id}"]
    ///     .get_async(serde_json::json!({"stock_id": "100088"}))
    ///     .then(|res| {
    ///         println!("{:#}", res.json::<serde_json::Value>()?);
    ///         Ok(())
    ///     })
    ///     .wait()
    /// # }
    /// ```
    pub fn then<U, F>(self, on_fulfilled: F) -> Pending<U>
    where
        U: Send + 'static,
        F: FnOnce(T) -> Result<U> + Send + 'static,
    {
        Pending::new(self.fut.map(|r| r.and_then(on_fulfilled)))
    }

    /// Runs `on_rejected` with the error, if there is one (PHP's promise `->otherwise()`).
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// let status = client["v3/marketing/busifavor/stocks/{stock_id}"]
    ///     .get_async(serde_json::json!({"stock_id": "999999"}))
    ///     .then(|res| Ok(res.status()))
    ///     .otherwise(|e| e.status().ok_or(e)) // a WeChat Pay error: its status; anything else stays an error
    ///     .wait()?;
    /// assert_eq!(status, 404);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn otherwise<F>(self, on_rejected: F) -> Pending<T>
    where
        F: FnOnce(Error) -> Result<T> + Send + 'static,
    {
        Pending::new(self.fut.map(|r| r.or_else(on_rejected)))
    }

    /// Blocks the current thread until the result is ready (PHP's promise `->wait()`).
    ///
    /// Safe outside any runtime and inside tokio of either flavour: the I/O runs on this crate's own
    /// runtime, so blocking here cannot starve it.
    pub fn wait(self) -> Result<T> {
        block_on(self.fut)
    }
}

/// Blocks on `fut`; inside a multi-thread tokio runtime, tells tokio first so other tasks can move.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        let nested = || crate::client::transport::not_driving(|| futures::executor::block_on(fut));
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            return tokio::task::block_in_place(nested);
        }
        return nested();
    }
    // Outside any runtime: this thread does the call's I/O itself.
    match crate::client::transport::block_here(fut) {
        Ok(out) => out,
        Err(fut) => futures::executor::block_on(fut),
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.fut.as_mut().poll(cx)
    }
}

impl<T> fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pending")
    }
}
