//! A request in a forked child answers (pre-forking servers do this): the child starts its own I/O
//! runtime and connections instead of waiting on the parent's, whose threads do not exist there.
//!
//! Its own harness (`harness = false`), so the process forks from a single test thread.

#[cfg(all(unix, feature = "mock"))]
fn main() {
    use std::time::{Duration, Instant};

    use serde_json::json;
    use wechatpay::mock::MockServer;
    use wechatpay::Options;

    let server = MockServer::start().expect("sandbox");
    let client = server.client().expect("client");
    let call = |client: &wechatpay::Client| {
        client["v3/marketing/busifavor/stocks/{stock_id}"]
            .get(Options::from(json!({"stock_id": "100088"})).timeout(Duration::from_secs(30)))
    };
    // The parent's runtime and a pooled connection exist before the fork.
    call(&client).expect("the parent's call");

    // SAFETY (of the test, not the crate): the child only makes one call and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match call(&client) {
            Ok(res) if res.status() == 200 => 0,
            _ => 1,
        };
        unsafe { libc::_exit(code) };
    }

    // The parent waits, bounded: a child stuck on the parent's runtime would never answer.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut status = 0;
    loop {
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            println!("fork: 0 passed, 1 failed");
            panic!("the forked child's call never ended");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    // And the parent still works after the fork.
    call(&client).expect("the parent's call after the fork");
    if !ok {
        println!("fork: 0 passed, 2 failed");
        panic!("the forked child's call failed (status {status})");
    }

    // The background runtime (which async calls use; blocking ones drive their own) can be resized only
    // while stopped, stopped, and started again by the next async call.
    let call_async = |client: &wechatpay::Client| {
        futures::executor::block_on(
            client["v3/marketing/busifavor/stocks/{stock_id}"]
                .get_async(Options::from(json!({"stock_id": "100088"})).timeout(Duration::from_secs(30))),
        )
    };
    call_async(&client).expect("an async call starts the background runtime");
    assert!(
        wechatpay::runtime::set_worker_threads(2).is_err(),
        "running: too late to size it"
    );
    assert!(wechatpay::runtime::shutdown(Duration::from_secs(10)), "it was running");
    assert!(
        !wechatpay::runtime::shutdown(Duration::from_secs(10)),
        "nothing left to stop"
    );
    wechatpay::runtime::set_worker_threads(2).expect("stopped: may be sized");
    call_async(&client).expect("a call after the shutdown starts a new runtime");
    call(&client).expect("and blocking calls go on, on their own thread");
    println!("fork: 2 passed, 0 failed");
}

#[cfg(not(all(unix, feature = "mock")))]
fn main() {}
