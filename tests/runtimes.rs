//! The blocking and async calls run everywhere: outside any runtime, inside tokio of either flavour, on
//! `futures::executor::block_on`, from many threads and many tasks at once; futures are lazy, `Send +
//! 'static`, and port PHP's `->then(...)->otherwise(...)->wait()` promise chains line by line.
#![cfg(feature = "mock")]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use serde_json::{json, Value};
use wechatpay::mock::{Answer, MockServer};
use wechatpay::{Chain, Client, Pending, Response, ResponseFuture};

// Compile-time guarantees: the futures cross threads and outlive the call; clients and nodes are shared.
const _: () = {
    const fn send_static<T: Send + 'static>() {}
    const fn send_sync<T: Send + Sync + 'static>() {}
    const fn clone<T: Clone>() {}
    send_static::<ResponseFuture>();
    send_static::<Pending<u16>>();
    send_sync::<Client>();
    send_sync::<Chain>();
    send_sync::<wechatpay::Error>();
    clone::<Client>();
};

/// A sandbox with `GET v3/ping` answering `{"pong": true}`, and a client for it.
fn sandbox() -> (MockServer, Client) {
    let server = MockServer::start().expect("the sandbox starts on 127.0.0.1");
    server.route(wechatpay::Method::GET, "v3/ping", |_| {
        Answer::json(200, &json!({"pong": true}))
    });
    let client = server.client().expect("a client for the sandbox");
    (server, client)
}

fn assert_pong(res: &Response) {
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().unwrap(), json!({"pong": true}));
    assert!(res.request_id().is_some(), "the sandbox names every answer");
}

/// Fails the whole test binary (instead of hanging it) if a deadlock keeps `self` alive past `limit`.
struct Watchdog(#[allow(dead_code)] mpsc::Sender<()>);

impl Watchdog {
    fn new(what: &'static str, limit: Duration) -> Self {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                eprintln!("DEADLOCK: {what} did not finish within {limit:?}");
                std::process::exit(101);
            }
        });
        Watchdog(tx)
    }
}

/// Far beyond what any test here takes on a slow, busy machine (seconds at most): only a deadlock reaches it,
/// and it ends the whole binary, so it must never be reached by slowness alone.
const LIMIT: Duration = Duration::from_secs(300);

#[test]
fn blocking_outside_any_runtime() {
    let _dog = Watchdog::new("blocking outside any runtime", LIMIT);
    let (server, client) = sandbox();
    assert!(tokio::runtime::Handle::try_current().is_err(), "no runtime here");
    assert_pong(&client["v3/ping"].get(()).unwrap());
    assert_pong(&client["v3"]["ping"].get(()).unwrap());
    assert_pong(&client.chain("v3/ping").get(()).unwrap());
    assert_eq!(server.requests(), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn blocking_inside_current_thread_tokio() {
    let _dog = Watchdog::new("blocking inside current_thread tokio", LIMIT);
    let (server, client) = sandbox();
    assert_pong(&client["v3/ping"].get(()).unwrap());
    assert_pong(&client.chain("v3/ping").get(()).unwrap());
    // The runtime still works afterwards, and async calls mix with blocking ones.
    assert_pong(&client["v3/ping"].get_async(()).await.unwrap());
    assert_pong(&client["v3/ping"].get(()).unwrap());
    assert_eq!(server.requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_inside_multi_thread_tokio() {
    let _dog = Watchdog::new("blocking inside multi_thread tokio", LIMIT);
    let (server, client) = sandbox();
    assert_pong(&client["v3/ping"].get(()).unwrap());
    // From spawned tasks on the workers too, several at once.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client["v3/ping"].get(()).map(|r| r.status()) })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), 200);
    }
    // And from spawn_blocking.
    let c = client.clone();
    let status = tokio::task::spawn_blocking(move || c["v3/ping"].get(()).map(|r| r.status()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(server.requests(), 6);
}

#[tokio::test(flavor = "current_thread")]
async fn async_on_current_thread_tokio() {
    let _dog = Watchdog::new("async on current_thread tokio", LIMIT);
    let (server, client) = sandbox();
    assert_pong(&client["v3/ping"].get_async(()).await.unwrap());
    assert_pong(&client["v3"]["ping"].get_async(()).await.unwrap());
    assert_pong(&client.chain("v3/ping").get_async(()).await.unwrap());
    // Spawned on the same single thread, the futures are 'static.
    let c = client.clone();
    let handle = tokio::spawn(async move { c["v3/ping"].get_async(()).await.map(|r| r.status()) });
    assert_eq!(handle.await.unwrap().unwrap(), 200);
    assert_eq!(server.requests(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_on_multi_thread_tokio() {
    let _dog = Watchdog::new("async on multi_thread tokio", LIMIT);
    let (server, client) = sandbox();
    assert_pong(&client["v3/ping"].get_async(()).await.unwrap());
    let fut = client["v3/ping"].get_async(());
    let status = tokio::spawn(async move { fut.await.map(|r| r.status()) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(server.requests(), 2);
}

#[test]
fn async_on_futures_block_on_without_tokio() {
    let _dog = Watchdog::new("futures::executor::block_on", LIMIT);
    let (server, client) = sandbox();
    assert!(tokio::runtime::Handle::try_current().is_err());
    assert_pong(&futures::executor::block_on(client["v3/ping"].get_async(())).unwrap());
    let both = futures::executor::block_on(futures::future::join(
        client["v3/ping"].get_async(()),
        client.chain("v3/ping").get_async(()),
    ));
    assert_pong(&both.0.unwrap());
    assert_pong(&both.1.unwrap());
    assert_eq!(server.requests(), 3);
}

#[test]
fn wait_blocks_for_the_result() {
    let _dog = Watchdog::new(".wait()", LIMIT);
    let (server, client) = sandbox();
    assert_pong(&client["v3/ping"].get_async(()).wait().unwrap());
    // A future made on one thread can be waited on from another.
    let fut = client["v3/ping"].get_async(());
    let status = std::thread::spawn(move || fut.wait().map(|r| r.status()))
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(server.requests(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_inside_tokio() {
    let _dog = Watchdog::new(".wait() inside tokio", LIMIT);
    let (_server, client) = sandbox();
    assert_pong(&client["v3/ping"].get_async(()).wait().unwrap());
}

#[test]
fn then_wait_ports_php_promise_chains() {
    let _dog = Watchdog::new(".then().wait()", LIMIT);
    let (server, client) = sandbox();
    // PHP: $instance->v3->ping->getAsync()->then(function ($res) { return json_decode(...)['pong']; })->wait();
    let pong = client["v3"]["ping"]
        .get_async(())
        .then(|res| Ok(res.json::<Value>()?["pong"].as_bool()))
        .wait()
        .unwrap();
    assert_eq!(pong, Some(true));
    // Chains of `then`, each seeing the previous value.
    let n = client["v3/ping"]
        .get_async(())
        .then(|res| Ok(res.status()))
        .then(|status| Ok(u32::from(status) + 1))
        .wait()
        .unwrap();
    assert_eq!(n, 201);
    // An error returned from `then` becomes the result.
    let err = client["v3/ping"]
        .get_async(())
        .then(|res| res.json::<Vec<u8>>())
        .wait()
        .unwrap_err();
    assert!(err.is_decode(), "{err:?}");
    assert_eq!(server.requests(), 3);
}

#[test]
fn then_is_skipped_and_otherwise_runs_on_errors() {
    let _dog = Watchdog::new(".otherwise()", LIMIT);
    let (_server, client) = sandbox();
    // An unknown path: the sandbox answers a signed 404 RESOURCE_NOT_EXISTS.
    let ran_then = Arc::new(AtomicBool::new(false));
    let ran = Arc::clone(&ran_then);
    let err = client["v3/nowhere"]
        .get_async(())
        .then(move |res| {
            ran.store(true, Ordering::SeqCst);
            Ok(res.status())
        })
        .wait()
        .unwrap_err();
    assert!(err.is_api(), "{err:?}");
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.code(), Some("RESOURCE_NOT_EXISTS"));
    assert!(!ran_then.load(Ordering::SeqCst), "then() must not run on a rejection");

    // PHP: ->then(fn ($r) => $r->getStatusCode())->otherwise(fn ($e) => $e->getResponse()->getStatusCode())->wait()
    let status = client["v3/nowhere"]
        .get_async(())
        .then(|res| Ok(res.status()))
        .otherwise(|e| Ok(e.status().unwrap_or(0) + 1000))
        .wait()
        .unwrap();
    assert_eq!(status, 1404);

    // `otherwise` can rethrow, and does not run on success.
    let err = client["v3/nowhere"].get_async(()).otherwise(Err).wait().unwrap_err();
    assert_eq!(err.code(), Some("RESOURCE_NOT_EXISTS"));
    let ran_otherwise = Arc::new(AtomicBool::new(false));
    let ran = Arc::clone(&ran_otherwise);
    let status = client["v3/ping"]
        .get_async(())
        .then(|res| Ok(res.status()))
        .otherwise(move |_| {
            ran.store(true, Ordering::SeqCst);
            Ok(0)
        })
        .wait()
        .unwrap();
    assert_eq!(status, 200);
    assert!(
        !ran_otherwise.load(Ordering::SeqCst),
        "otherwise() must not run on success"
    );

    // The same chain awaited instead of waited on.
    let status = futures::executor::block_on(
        client["v3/nowhere"]
            .get_async(())
            .then(|res| Ok(res.status()))
            .otherwise(|e| Ok(e.status().unwrap_or(0))),
    )
    .unwrap();
    assert_eq!(status, 404);
}

#[test]
fn a_future_dropped_unpolled_sends_nothing() {
    let _dog = Watchdog::new("lazy futures", LIMIT);
    let (server, client) = sandbox();
    let fut = client["v3/ping"].get_async(());
    drop(fut);
    let chained = client["v3/ping"]
        .get_async(())
        .then(|r| Ok(r.status()))
        .otherwise(|_| Ok(0));
    drop(chained);
    for _ in 0..10 {
        drop(client.chain("v3/ping").post_async(json!({"json": {"a": 1}})));
    }
    let pending = client["v3/ping"].get_async(());
    // A short wait for something that must not happen: a slow machine cannot fail this, only make it
    // miss a very late request.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(server.requests(), 0, "nothing is sent until a future is polled");
    // The one kept is sent when waited on, and the counter does count.
    assert_pong(&pending.wait().unwrap());
    assert_eq!(server.requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_async_calls() {
    let _dog = Watchdog::new("64 concurrent calls", LIMIT);
    let (server, client) = sandbox();
    let calls = (0..64).map(|i| {
        if i % 2 == 0 {
            client["v3/ping"].get_async(())
        } else {
            client.chain("v3").chain("ping").get_async(())
        }
    });
    let results = futures::future::join_all(calls).await;
    let mut ids = HashSet::new();
    for res in results {
        let res = res.expect("every call succeeds");
        assert_pong(&res);
        ids.insert(res.request_id().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 64, "every call is its own request");
    assert_eq!(server.requests(), 64);
}

#[test]
fn sixty_four_concurrent_calls_on_block_on() {
    let _dog = Watchdog::new("64 concurrent calls on block_on", LIMIT);
    let (server, client) = sandbox();
    let calls: Vec<_> = (0..64).map(|_| client["v3/ping"].get_async(())).collect();
    let results = futures::executor::block_on(futures::future::join_all(calls));
    let ids: HashSet<String> = results
        .into_iter()
        .map(|r| r.expect("every call succeeds").request_id().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 64);
    assert_eq!(server.requests(), 64);
}

#[test]
fn blocking_calls_from_many_threads_share_one_client() {
    const THREADS: usize = 8;
    const CALLS: usize = 4;
    let _dog = Watchdog::new("8 threads", LIMIT);
    let (server, client) = sandbox();
    let failures = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let client = client.clone();
            let failures = Arc::clone(&failures);
            std::thread::spawn(move || {
                let mut ids = Vec::new();
                for i in 0..CALLS {
                    let res = if (t + i) % 2 == 0 {
                        client["v3"]["ping"].get(())
                    } else {
                        client.chain("v3/ping").get(())
                    };
                    match res {
                        Ok(res) => {
                            assert_pong(&res);
                            ids.push(res.request_id().unwrap().to_owned());
                        }
                        Err(e) => {
                            eprintln!("thread {t}: {e:?}");
                            failures.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
                ids
            })
        })
        .collect();
    let ids: HashSet<String> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    assert_eq!(failures.load(Ordering::SeqCst), 0);
    assert_eq!(ids.len(), THREADS * CALLS, "distinct Request-IDs");
    assert_eq!(server.requests(), (THREADS * CALLS) as u64);
}

#[test]
fn owned_nodes_and_futures_outlive_the_client() {
    let _dog = Watchdog::new("owned nodes", LIMIT);
    let (server, client) = sandbox();
    let node = client["v3"]["ping"].clone();
    let fut = client["v3/ping"].get_async(());
    drop(client);
    assert_pong(&node.get(()).unwrap());
    assert_pong(&fut.wait().unwrap());
    assert_eq!(server.requests(), 2);
}
