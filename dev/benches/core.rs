//! Criterion benches for the hot paths of a WeChat Pay call; see BENCHMARKS.md for figures and method.
//!
//! ```text
//! cargo bench -p wechatpay-dev --bench core -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Groups (each quotable by name):
//! - `index_cached`: a cached `Index` lookup, full path and 5 per-segment keys.
//! - `chain_expand`: `client.chain(..)`, URI-template expansion of three placeholders, and `Client::prepare`.
//! - `sign`, `verify`: RSA-2048 PKCS#1 v1.5 / SHA-256 over a typical request/answer, and `verify_signed`.
//! - `round_trip`: signed + verified calls against the embedded sandbox on 127.0.0.1, sequential and 16 in flight.
//! - `sandbox_throughput`: requests/s the sandbox serves with 16 concurrent connections (requests pre-signed):
//!   a bare route, JSAPI orders of the payment family, and queries of a paid order.
//! - `client_cpu`, `sandbox_cpu`: CPU time per request burnt by the client's threads and by the sandbox's
//!   threads during the same round trips, from per-thread `/proc/self/task/*/schedstat` (Linux only);
//!   `apiv2_blocking_post` is an APIv2 call (MD5 `sign`, XML both ways) beside the APIv3 one.
//!
//! The CPU groups report CPU time, not wall time, in criterion's "time" column.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use futures::future::join_all;
use http::HeaderMap;
use serde_json::{json, Value};
use wechatpay::mock::{Answer, MockServer};
use wechatpay::verify::{self, Policy};
use wechatpay::{Client, Keyring, Method, PrivateKey, PublicKey};

const MERCHANT_KEY: &str = include_str!("../../tests/fixtures/merchant_key.pem");
const PLATFORM_KEY: &str = include_str!("../../tests/fixtures/platform_key.pem");
const PLATFORM_PUB: &str = include_str!("../../tests/fixtures/platform_pub.pem");
const PUB_KEY_ID: &str = "PUB_KEY_ID_0114232134912410000000000000";

const FULL_PATH: &str = "v3/marketing/busifavor/coupons/use";
const TEMPLATE: &str = "v3/marketing/busifavor/users/{openid}/coupons/{coupon_code}/appids/{appid}";
const IN_FLIGHT: usize = 16;

/// The request body of `POST v3/marketing/busifavor/coupons/use` from the docs (~190 bytes as JSON).
fn coupon_use_body() -> Value {
    json!({
        "stock_id": "100088",
        "coupon_code": "sxxe34343434",
        "appid": "wx1234567889999",
        "openid": "xsd3434454567676",
        "use_time": "2015-05-20T13:29:35+08:00",
        "use_request_no": "1002600620019090123143254435"
    })
}

/// A client on the fixture keys; nothing here touches the network.
fn offline_client() -> Client {
    Client::builder()
        .mchid("1900000109")
        .serial("3775B6A45ACD588826D15E583A95F5DD00000001")
        .private_key(MERCHANT_KEY)
        .cert(PUB_KEY_ID, PLATFORM_PUB)
        .build()
        .expect("fixture client")
}

fn index_cached(c: &mut Criterion) {
    let client = offline_client();
    // Warm the caches: the first lookup of each key builds and stores the node.
    let _ = &client[FULL_PATH];
    let _ = &client["v3"]["marketing"]["busifavor"]["coupons"]["use"];

    let mut g = c.benchmark_group("index_cached");
    g.bench_function("full_path", |b| b.iter(|| black_box(&client[black_box(FULL_PATH)])));
    g.bench_function("per_segment_x5", |b| {
        b.iter(|| {
            black_box(
                &client[black_box("v3")][black_box("marketing")][black_box("busifavor")][black_box("coupons")]
                    [black_box("use")],
            )
        })
    });
    g.finish();
}

fn chain_expand(c: &mut Criterion) {
    let client = offline_client();
    let values = [
        ("openid", "xsd3434454567676"),
        ("coupon_code", "sxxe34343434"),
        ("appid", "wx1234567889999"),
    ];
    let lookup = |name: &str| values.iter().find(|(k, _)| *k == name).map(|(_, v)| Cow::Borrowed(*v));

    let mut g = c.benchmark_group("chain_expand");
    g.bench_function("chain", |b| b.iter(|| black_box(client.chain(black_box(TEMPLATE)))));
    g.bench_function("expand_3", |b| {
        b.iter(|| wechatpay::template::expand(black_box(TEMPLATE), lookup).expect("expands"))
    });
    g.bench_function("chain+expand_3", |b| {
        b.iter(|| {
            let node = client.chain(black_box(TEMPLATE));
            wechatpay::template::expand(node.pathname(), lookup).expect("expands")
        })
    });
    let options = json!({
        "openid": "xsd3434454567676",
        "coupon_code": "sxxe34343434",
        "appid": "wx1234567889999",
        "json": coupon_use_body(),
    });
    g.bench_function("prepare_signed_post", |b| {
        b.iter_batched(
            || options.clone(),
            |opts| client.prepare(Method::POST, TEMPLATE, opts).expect("prepares"),
            BatchSize::SmallInput,
        )
    });
    // APIv2: the fields checked, a nonce drawn, MD5 signed and the XML written.
    let v2 = Client::builder()
        .mchid("1900000109")
        .apiv2_key("exposed_your_key_here_have_risks")
        .build()
        .expect("an APIv2 client");
    g.bench_function("prepare_apiv2_post", |b| {
        b.iter_batched(
            v2_options,
            |opts| v2.prepare(Method::POST, "v2/pay/micropay", opts).expect("prepares"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// A typical request message: `POST\n/v3/marketing/busifavor/coupons/use\nTS\nNONCE\nBODY\n` (~280 bytes).
fn request_message() -> Vec<u8> {
    let body = coupon_use_body().to_string();
    wechatpay::sign::request_message(
        "POST",
        "/v3/marketing/busifavor/coupons/use",
        1_700_000_000,
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        body.as_bytes(),
    )
}

fn sign(c: &mut Criterion) {
    let key = PrivateKey::load(MERCHANT_KEY).expect("fixture key");
    let message = request_message();
    let mut g = c.benchmark_group("sign");
    g.throughput(Throughput::Bytes(message.len() as u64));
    g.bench_function("rsa2048_sha256_b64", |b| b.iter(|| key.sign(black_box(&message))));
    g.finish();
}

fn verify(c: &mut Criterion) {
    let merchant = PrivateKey::load(MERCHANT_KEY).expect("fixture key");
    let message = request_message();
    let signature = merchant.sign(&message);
    let public = merchant.public_key();
    assert!(public.verify(&message, &signature));

    // A full answer: the four Wechatpay-* headers over a typical JSON body.
    let platform = PrivateKey::load(PLATFORM_KEY).expect("fixture key");
    let keyring = Keyring::new([(
        PUB_KEY_ID.to_owned(),
        PublicKey::load(PLATFORM_PUB).expect("fixture pub"),
    )]);
    let body = json!({"stock_id": "100088", "openid": "xsd3434454567676",
        "wechatpay_use_time": "2015-05-20T13:29:35+08:00"})
    .to_string();
    let (ts, nonce) = ("1700000000", "3W2H4CFaC8oS2aUqbTW4xbKvC53CYe4H");
    let mut headers = HeaderMap::new();
    headers.insert(verify::TIMESTAMP, ts.parse().unwrap());
    headers.insert(verify::NONCE, nonce.parse().unwrap());
    headers.insert(verify::SERIAL, PUB_KEY_ID.parse().unwrap());
    let answer_sig = platform.sign(&verify::answer_message(ts, nonce, body.as_bytes()));
    headers.insert(verify::SIGNATURE, answer_sig.parse().unwrap());
    let now = 1_700_000_000;
    verify::verify_signed(&keyring, Policy::Verify, &headers, body.as_bytes(), now).expect("verifies");

    let mut g = c.benchmark_group("verify");
    g.bench_function("rsa2048_sha256_b64", |b| {
        b.iter(|| assert!(public.verify(black_box(&message), black_box(&signature))))
    });
    g.bench_function("verify_signed_answer", |b| {
        b.iter(|| {
            verify::verify_signed(
                &keyring,
                Policy::Verify,
                black_box(&headers),
                black_box(body.as_bytes()),
                now,
            )
        })
    });
    g.finish();
}

/// A sandbox with one route, and a client for it.
fn sandbox() -> (MockServer, Client) {
    // `WECHATPAY_IO_THREADS=n` sizes the client's I/O runtime, to compare sizes side by side.
    if let Some(n) = std::env::var("WECHATPAY_IO_THREADS").ok().and_then(|n| n.parse().ok()) {
        let _ = wechatpay::runtime::set_worker_threads(n);
    }
    let server = MockServer::start().expect("sandbox starts");
    server.route(Method::POST, "v3/bench/{id}", |_req| {
        Answer::json(200, &json!({"ok": true}))
    });
    let answer = v2_answer(server.apiv2_key());
    server.route(Method::POST, V2_ROUTE, move |_req| {
        Answer::bytes(200, "text/xml", answer.clone())
    });
    let client = server.client().expect("sandbox client");
    (server, client)
}

/// The APIv2 route of the bench sandbox: a micropay-sized answer, signed (MD5) with the APIv2 key, fixed.
const V2_ROUTE: &str = "bench/v2/micropay";

fn v2_answer(apiv2_key: &str) -> String {
    let fields = [
        ("return_code", "SUCCESS"),
        ("return_msg", "OK"),
        ("appid", "wx8888888888888888"),
        ("mch_id", "1900000109"),
        ("nonce_str", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"),
        ("result_code", "SUCCESS"),
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        ("is_subscribe", "N"),
        ("trade_type", "MICROPAY"),
        ("bank_type", "OTHERS"),
        ("total_fee", "888"),
        ("fee_type", "CNY"),
        ("cash_fee", "888"),
        ("transaction_id", "4200000000202011301234567890"),
        ("out_trade_no", "1217752501201407033233368018"),
        ("time_end", "20261130120000"),
    ];
    let sign = wechatpay::apiv2::sign(wechatpay::apiv2::SignType::Md5, fields, apiv2_key);
    let body: String = fields.iter().map(|(k, v)| format!("<{k}>{v}</{k}>")).collect();
    format!("<xml>{body}<sign>{sign}</sign></xml>")
}

/// The fields of `pay/micropay` from APIV2.md's vector.
fn v2_options() -> Value {
    json!({"xml": {"appid": "wx8888888888888888", "mch_id": "1900000109", "body": "image形象店-深圳腾大- QQ公仔",
        "out_trade_no": "1217752501201407033233368018", "total_fee": 888, "spbill_create_ip": "8.8.8.8",
        "auth_code": "120061098828009406"}})
}

fn post_v2_blocking(client: &Client) {
    // The route's path, as a caller writes it: `v2/` + V2_ROUTE.
    let res = client["v2/bench/v2/micropay"]
        .post(v2_options())
        .expect("signed + verified");
    let fields: Value = res.xml().expect("XML fields");
    assert_eq!(fields["total_fee"], "888");
}

fn call_options(id: usize) -> Value {
    json!({"id": id.to_string(), "json": coupon_use_body()})
}

fn post_blocking(client: &Client) {
    let res = client["v3/bench/{id}"]
        .post(call_options(1))
        .expect("signed + verified");
    assert_eq!(res.status(), 200);
}

/// One async call at a time, awaited on a tokio runtime (what `#[tokio::main]` builds): the I/O runtime
/// carries the exchange.
fn post_async(rt: &tokio::runtime::Runtime, client: &Client) {
    let res = rt
        .block_on(client["v3/bench/{id}"].post_async(call_options(1)))
        .expect("signed + verified");
    assert_eq!(res.status(), 200);
}

fn post_16(client: &Client) {
    let node = &client["v3/bench/{id}"];
    let calls = (0..IN_FLIGHT).map(|i| node.post_async(call_options(i)));
    for res in futures::executor::block_on(join_all(calls)) {
        assert_eq!(res.expect("signed + verified").status(), 200);
    }
}

fn round_trip(c: &mut Criterion) {
    let (server, client) = sandbox();
    post_blocking(&client);
    post_16(&client);

    let mut g = c.benchmark_group("round_trip");
    g.sample_size(20);
    g.bench_function("blocking_post", |b| b.iter(|| post_blocking(&client)));
    // Criterion's figure is per request: the time of a batch of 16 concurrent calls, divided by 16.
    g.bench_function("async_16_in_flight_per_request", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                post_16(&client);
            }
            start.elapsed() / IN_FLIGHT as u32
        })
    });
    g.finish();
    drop(server);
}

fn sandbox_throughput(c: &mut Criterion) {
    let (server, client) = sandbox();
    // A plain HTTP client with no signing or verifying of its own, so the figure is the sandbox's.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let http = reqwest::Client::new();

    let mut g = c.benchmark_group("sandbox_throughput");
    g.sample_size(10);
    g.throughput(Throughput::Elements(IN_FLIGHT as u64));
    // The payment family's hot paths: JSAPI orders (each a new out_trade_no) and queries of a paid order.
    client["v3/pay/transactions/jsapi"]
        .post(jsapi_order("BENCH0000000"))
        .expect("an order");
    server.pay("BENCH0000000").expect("paid");
    let runs = std::sync::atomic::AtomicUsize::new(0);
    type Make<'a> = Box<dyn Fn(usize) -> wechatpay::Prepared + 'a>;
    let cases: [(&str, Make<'_>); 3] = [
        (
            "signed_requests_16_clients",
            Box::new(|i| {
                client
                    .prepare(Method::POST, "v3/bench/{id}", call_options(i))
                    .expect("prepares")
            }),
        ),
        (
            "payments_jsapi_16_clients",
            Box::new(|i| {
                let run = runs.load(std::sync::atomic::Ordering::Relaxed);
                let order = jsapi_order(&format!("B{run:05}N{i:08}"));
                client
                    .prepare(Method::POST, "v3/pay/transactions/jsapi", order)
                    .expect("prepares")
            }),
        ),
        (
            "payments_query_16_clients",
            Box::new(|_| {
                let query = json!({"out_trade_no": "BENCH0000000", "query": {"mchid": "1900000109"}});
                client
                    .prepare(Method::GET, "v3/pay/transactions/out-trade-no/{out_trade_no}", query)
                    .expect("prepares")
            }),
        ),
    ];
    for (name, make) in &cases {
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                // Sign every request up front (each has a fresh nonce, as the sandbox refuses replays).
                let queue: Mutex<Vec<wechatpay::Prepared>> =
                    Mutex::new((0..iters as usize * IN_FLIGHT).map(make).collect());
                let worker = || async {
                    loop {
                        let Some(req) = queue.lock().unwrap().pop() else { break };
                        let res = http
                            .request(req.method().clone(), req.url().clone())
                            .headers(req.headers().clone())
                            .body(req.body().clone())
                            .send()
                            .await
                            .expect("sandbox answers");
                        assert_eq!(res.status(), 200, "the sandbox refused a request");
                        black_box(res.bytes().await.expect("answer body"));
                    }
                };
                let start = Instant::now();
                rt.block_on(join_all((0..IN_FLIGHT).map(|_| worker())));
                start.elapsed()
            })
        });
    }
    g.finish();
    drop(server);
}

/// A JSAPI order of the payment family, numbered `out_trade_no`.
fn jsapi_order(out_trade_no: &str) -> Value {
    json!({"json": {"appid": "wxd678efh567hg6787", "mchid": "1900000109", "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": out_trade_no, "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": {"total": 100, "currency": "CNY"}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}})
}

const SANDBOX_THREAD: &str = "wechatpay-mock";

/// CPU time (user + system, ns) of each live thread of this process, with the thread's name.
fn thread_cpu() -> HashMap<u32, (String, u64)> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let path = entry.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        // `schedstat`'s first field is the time on CPU in ns; fall back to `stat` ticks (1/100 s).
        let ns = std::fs::read_to_string(path.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .or_else(|| {
                let stat = std::fs::read_to_string(path.join("stat")).ok()?;
                let rest = stat.rsplit_once(')')?.1;
                // After `)` come fields 3 (state) onwards; utime and stime are fields 14 and 15.
                let f: Vec<&str> = rest.split_whitespace().collect();
                let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
                Some(ticks * 10_000_000)
            });
        if let Some(ns) = ns {
            out.insert(tid, (comm.trim().to_owned(), ns));
        }
    }
    out
}

/// (client, sandbox) CPU time between two snapshots. Threads that exited in between are lost, so say so.
fn cpu_delta(before: &HashMap<u32, (String, u64)>, after: &HashMap<u32, (String, u64)>) -> (Duration, Duration) {
    let (mut client, mut sandbox) = (0u64, 0u64);
    for (tid, (name, ns)) in after {
        let was = before.get(tid).map_or(0, |(_, ns)| *ns);
        let d = ns.saturating_sub(was);
        if name == SANDBOX_THREAD {
            sandbox += d;
        } else {
            client += d;
        }
    }
    let exited = before.keys().filter(|tid| !after.contains_key(tid)).count();
    if exited > 0 {
        eprintln!("warning: {exited} thread(s) exited during a CPU measurement; their share is missing");
    }
    (Duration::from_nanos(client), Duration::from_nanos(sandbox))
}

/// Runs `iters` round trips (`batch` requests each) and returns (client, sandbox) CPU time per round trip
/// divided by `batch`, summed over the `iters` round trips (what `iter_custom` expects).
///
/// Reading `/proc` costs the calling (client) thread some CPU too; the cost of one snapshot, measured
/// just before, is subtracted.
fn cpu_per_request(iters: u64, batch: usize, mut run: impl FnMut()) -> (Duration, Duration) {
    let s0 = thread_cpu();
    let s1 = thread_cpu();
    for _ in 0..iters {
        run();
    }
    let s2 = thread_cpu();
    let (snapshot_cost, _) = cpu_delta(&s0, &s1);
    let (client, sandbox) = cpu_delta(&s1, &s2);
    // Criterion divides by `iters`; the batch is ours to divide by.
    (
        client.saturating_sub(snapshot_cost) / batch as u32,
        sandbox / batch as u32,
    )
}

/// With `WECHATPAY_BENCH_BREAKDOWN=1`: CPU per request by thread (caller, client I/O runtime, sandbox),
/// over a fixed number of round trips, printed once. Not a criterion measurement; a map of where time goes.
fn cpu_breakdown(client: &Client, rt: &tokio::runtime::Runtime) {
    if std::env::var_os("WECHATPAY_BENCH_BREAKDOWN").is_none() {
        return;
    }
    let pid = std::process::id();
    let by_thread = |requests: usize, run: &mut dyn FnMut()| {
        let before = thread_cpu();
        let wall = Instant::now();
        run();
        let wall = wall.elapsed();
        let after = thread_cpu();
        let mut rows: HashMap<String, u64> = HashMap::new();
        for (tid, (name, ns)) in &after {
            let label = if *tid == pid {
                "caller (bench main thread)".to_owned()
            } else {
                name.clone()
            };
            let was = before.get(tid).map_or(0, |(_, ns)| *ns);
            *rows.entry(label).or_default() += ns.saturating_sub(was);
        }
        let mut rows: Vec<_> = rows.into_iter().filter(|(_, ns)| *ns > 0).collect();
        rows.sort();
        for (label, ns) in rows {
            println!(
                "  {label:<28} {:>8.1} µs CPU/request",
                ns as f64 / 1e3 / requests as f64
            );
        }
        println!(
            "  {:<28} {:>8.1} µs/request",
            "wall",
            wall.as_secs_f64() * 1e6 / requests as f64
        );
    };
    println!("cpu_breakdown/prepare_only (500 signed requests built, nothing sent):");
    by_thread(500, &mut || {
        for i in 0..500 {
            black_box(
                client
                    .prepare(Method::POST, "v3/bench/{id}", call_options(i))
                    .expect("prepares"),
            );
        }
    });
    println!("cpu_breakdown/blocking_post (500 sequential requests):");
    by_thread(500, &mut || (0..500).for_each(|_| post_blocking(client)));
    println!("cpu_breakdown/async_post (500 sequential requests awaited on a tokio runtime):");
    by_thread(500, &mut || (0..500).for_each(|_| post_async(rt, client)));
    println!("cpu_breakdown/apiv2_blocking_post (500 sequential requests):");
    by_thread(500, &mut || (0..500).for_each(|_| post_v2_blocking(client)));
    println!("cpu_breakdown/async_16_in_flight (50 batches of 16):");
    by_thread(50 * IN_FLIGHT, &mut || (0..50).for_each(|_| post_16(client)));
}

fn cpu_groups(c: &mut Criterion) {
    if thread_cpu().is_empty() {
        eprintln!("client_cpu/sandbox_cpu skipped: /proc/self/task is not readable here");
        return;
    }
    let (server, client) = sandbox();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    post_blocking(&client);
    post_async(&rt, &client);
    post_16(&client);
    post_v2_blocking(&client);

    for (group, pick) in [("client_cpu", 0usize), ("sandbox_cpu", 1)] {
        let pick = move |(client, sandbox): (Duration, Duration)| if pick == 0 { client } else { sandbox };
        let mut g = c.benchmark_group(group);
        g.sample_size(20);
        g.bench_function("blocking_post", |b| {
            b.iter_custom(|iters| pick(cpu_per_request(iters, 1, || post_blocking(&client))))
        });
        g.bench_function("async_post", |b| {
            b.iter_custom(|iters| pick(cpu_per_request(iters, 1, || post_async(&rt, &client))))
        });
        g.bench_function("async_16_in_flight_per_request", |b| {
            b.iter_custom(|iters| pick(cpu_per_request(iters, IN_FLIGHT, || post_16(&client))))
        });
        g.bench_function("apiv2_blocking_post", |b| {
            b.iter_custom(|iters| pick(cpu_per_request(iters, 1, || post_v2_blocking(&client))))
        });
        g.finish();
    }
    cpu_breakdown(&client, &rt);
    drop(server);
}

criterion_group!(micro, index_cached, chain_expand, sign, verify);
criterion_group!(loopback, round_trip, sandbox_throughput, cpu_groups);
criterion_main!(micro, loopback);
