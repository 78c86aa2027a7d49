//! The chain: a segment-accumulating request object, reached by `client.chain("…")` or `client["…"]`.

use std::fmt;
use std::ops::Index;
use std::sync::{Arc, Weak};

use elsa::sync::FrozenMap;
use http::Method;

use crate::client::pending::{Pending, ResponseFuture};
use crate::client::response::Response;
use crate::client::Inner;
use crate::error::{Error, Result};
use crate::protocol::options::Options;
use crate::protocol::path;

/// One node of a chain: a path template plus the client that will send it.
///
/// Reached three ways, all giving the same node:
///
/// ```
/// # fn demo(client: &wechatpay::Client) {
/// let a = &client["v3"]["marketing"]["busifavor"]["coupons"]["use"];   // pure chain (PHP `->v3->…`)
/// let b = client.chain("v3/marketing/busifavor/coupons/use");          // declarative (PHP `->chain()`)
/// let c = &client["v3/marketing/busifavor/coupons/use"];               // property (PHP `['…']`)
/// assert_eq!(a.pathname(), b.pathname());
/// assert_eq!(b.pathname(), c.pathname());
/// # }
/// ```
///
/// `Index` must hand out references, so nodes reached with `[…]` are cached inside their parent, keyed by
/// the exact key: the cache grows with the number of *distinct keys* used, and is safe to share between
/// threads. So keep values out of paths (`client["v3/users/" + openid]` would cache one node per user);
/// put them in placeholders (`client["v3/users/{openid}"]` with `{"openid": …}`), or use
/// [`Chain::chain`], which returns an owned node and caches nothing.
pub struct Chain {
    client: ClientRef,
    template: String,
    children: FrozenMap<String, Box<Chain>>,
}

/// Cached nodes live inside the client, so they point back weakly; owned nodes keep the client alive.
enum ClientRef {
    Strong(Arc<Inner>),
    Weak(Weak<Inner>),
}

impl Chain {
    pub(crate) fn root(client: Weak<Inner>) -> Self {
        Chain {
            client: ClientRef::Weak(client),
            template: String::new(),
            children: FrozenMap::new(),
        }
    }

    fn client(&self) -> Result<Arc<Inner>> {
        match &self.client {
            ClientRef::Strong(arc) => Ok(Arc::clone(arc)),
            // A borrowed node cannot outlive its owner, so this only fails if that invariant is broken.
            ClientRef::Weak(weak) => weak
                .upgrade()
                .ok_or_else(|| Error::config("the client of this chain was dropped")),
        }
    }

    fn weak(&self) -> Weak<Inner> {
        match &self.client {
            ClientRef::Strong(arc) => Arc::downgrade(arc),
            ClientRef::Weak(weak) => weak.clone(),
        }
    }

    /// A new owned node: this path plus `key` (one PHP-style key, or a full path with `/`).
    /// Nothing is cached.
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// let busifavor = client.chain("v3/marketing/busifavor");
    /// let stock = busifavor.chain("stocks/{stock_id}"); // owned: keep it, move it, send it to a thread
    /// assert_eq!(stock.pathname(), "v3/marketing/busifavor/stocks/{stock_id}");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn chain(&self, key: &str) -> Chain {
        Chain {
            client: match self.client() {
                Ok(arc) => ClientRef::Strong(arc),
                Err(_) => ClientRef::Weak(self.weak()),
            },
            template: path::append(&self.template, key),
            children: FrozenMap::new(),
        }
    }

    /// The URI template of this node, as PHP's `pathname()`: segments joined by `/`, no leading slash,
    /// placeholders as `{name}`.
    pub fn pathname(&self) -> &str {
        &self.template
    }

    /// Sends a request with any method (blocking).
    ///
    /// ```
    /// # let server = wechatpay::mock::MockServer::start()?;
    /// # let client = server.client()?;
    /// use wechatpay::Method;
    /// let res = client["v3/marketing/busifavor/stocks/{stock_id}"]
    ///     .request(Method::GET, serde_json::json!({"stock_id": "100088"}))?; // the same as `.get(…)`
    /// assert_eq!(res.status(), 200);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn request(&self, method: Method, options: impl Into<Options>) -> Result<Response> {
        self.request_async(method, options).wait()
    }

    /// Sends a request with any method. Nothing happens until the future is polled; it is signed then.
    pub fn request_async(&self, method: Method, options: impl Into<Options>) -> ResponseFuture {
        let options = options.into();
        let client = self.client();
        let template = self.template.clone();
        Pending::new(async move { client?.execute(method, &template, &options).await })
    }
}

macro_rules! verbs {
    ($($method:ident $sync:ident $async_:ident $doc:literal;)*) => {
        impl Chain {
            $(
                #[doc = concat!("`", $doc, "` this path, blocking until the verified answer arrives.")]
                ///
                /// Works outside any runtime and inside tokio of either flavour.
                pub fn $sync(&self, options: impl Into<Options>) -> Result<Response> {
                    self.request(Method::$method, options)
                }

                #[doc = concat!("`", $doc, "` this path; the future is `Send + 'static` and runs on any executor.")]
                pub fn $async_(&self, options: impl Into<Options>) -> ResponseFuture {
                    self.request_async(Method::$method, options)
                }
            )*
        }
    };
}

verbs! {
    GET get get_async "GET";
    PUT put put_async "PUT";
    POST post post_async "POST";
    PATCH patch patch_async "PATCH";
    DELETE delete delete_async "DELETE";
}

impl Index<&str> for Chain {
    type Output = Chain;

    fn index(&self, key: &str) -> &Chain {
        if let Some(child) = self.children.get(key) {
            return child;
        }
        self.children.insert(
            key.to_owned(),
            Box::new(Chain {
                client: ClientRef::Weak(self.weak()),
                template: path::append(&self.template, key),
                children: FrozenMap::new(),
            }),
        )
    }
}

impl Clone for Chain {
    /// An owned node with the same path (and an empty cache).
    fn clone(&self) -> Self {
        self.chain("")
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain").field("pathname", &self.template).finish()
    }
}
