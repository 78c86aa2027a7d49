//! Every documented call of wechatpay-php (tests/fixtures/chain_gold.tsv, 1,119 rows) reaches the same URI
//! template through every chain style, plus the caching and ownership rules of the chain nodes.

use std::collections::HashMap;
use std::sync::{Arc, Barrier};

use wechatpay::{Chain, Client};

const GOLD: &str = include_str!("fixtures/chain_gold.tsv");
const GOLD_ROWS: usize = 1119;

fn client() -> Client {
    Client::builder()
        .mchid("1900000109")
        .serial("ABC123")
        .private_key(include_str!("fixtures/merchant_key.pem"))
        .cert(
            "PUB_KEY_ID_0114232134912410000000000000",
            include_str!("fixtures/platform_pub.pem"),
        )
        .build()
        .expect("an offline client builds from the fixtures")
}

struct Row<'a> {
    line: usize,
    method: &'a str,
    segments: Vec<&'a str>,
    template: &'a str,
}

fn gold() -> Vec<Row<'static>> {
    let mut rows = Vec::new();
    for (i, line) in GOLD.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(
            cols.len() >= 3,
            "line {}: expected tab-separated columns: {line:?}",
            i + 1
        );
        let chain = cols[1]
            .strip_prefix("->")
            .unwrap_or_else(|| panic!("line {}: chain {:?}", i + 1, cols[1]));
        let segments: Vec<&str> = chain.split("->").collect();
        assert!(segments.iter().all(|s| !s.is_empty()), "line {}: empty segment", i + 1);
        rows.push(Row {
            line: i + 1,
            method: cols[0],
            segments,
            template: cols[2],
        });
    }
    rows
}

fn by_index<'c>(client: &'c Client, segments: &[&str]) -> &'c Chain {
    let mut node: &Chain = &client[segments[0]];
    for seg in &segments[1..] {
        node = &node[seg];
    }
    node
}

fn by_chain(client: &Client, segments: &[&str]) -> Chain {
    let mut node = client.chain(segments[0]);
    for seg in &segments[1..] {
        node = node.chain(seg);
    }
    node
}

/// Runs `style` over every gold row and reports every mismatch at once.
fn check_all(style: &str, got: impl Fn(&Row<'_>) -> String) {
    let rows = gold();
    assert_eq!(rows.len(), GOLD_ROWS, "the gold file must hold every documented call");
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let actual = got(row);
            (actual != row.template).then(|| {
                format!(
                    "line {} {} ->{}: {style} gave {actual:?}, expected {:?}",
                    row.line,
                    row.method,
                    row.segments.join("->"),
                    row.template
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows fail through {style}:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn gold_file_is_complete_and_well_formed() {
    let rows = gold();
    assert_eq!(rows.len(), GOLD_ROWS);
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    for row in &rows {
        assert!(
            methods.contains(&row.method),
            "line {}: method {:?}",
            row.line,
            row.method
        );
        assert!(
            !row.template.starts_with('/'),
            "line {}: templates have no leading slash",
            row.line
        );
    }
    // The gold file exercises all three PHP rules, so passing it means something.
    let all: Vec<&str> = rows.iter().flat_map(|r| r.segments.iter().copied()).collect();
    assert!(
        all.iter()
            .any(|s| s.starts_with('_') && s.ends_with('_') && s.len() > 2),
        "placeholders"
    );
    assert!(
        all.iter().any(|s| s.chars().skip(1).any(|c| c.is_ascii_uppercase())),
        "camelCase"
    );
}

#[test]
fn gold_per_segment_index() {
    let client = client();
    check_all("per-segment Index", |row| {
        by_index(&client, &row.segments).pathname().to_owned()
    });
}

#[test]
fn gold_chain_with_full_template() {
    let client = client();
    check_all("chain(template)", |row| {
        client.chain(row.template).pathname().to_owned()
    });
}

#[test]
fn gold_index_with_full_template() {
    let client = client();
    check_all("Index[template]", |row| client[row.template].pathname().to_owned());
}

#[test]
fn gold_per_segment_chain() {
    let client = client();
    check_all("per-segment chain()", |row| {
        by_chain(&client, &row.segments).pathname().to_owned()
    });
}

#[test]
fn gold_per_segment_index_on_owned_node_and_chain_on_cached_node() {
    // Styles mixed at every point of the chain: owned head, cached tail; cached head, owned tail.
    let client = client();
    check_all("chain(first)[rest…]", |row| {
        let head = client.chain(row.segments[0]);
        let mut node: &Chain = &head;
        for seg in &row.segments[1..] {
            node = &node[seg];
        }
        node.pathname().to_owned()
    });
    check_all("[first].chain(rest…)", |row| {
        let mut node = client[row.segments[0]].chain("");
        for seg in &row.segments[1..] {
            node = node.chain(seg);
        }
        node.pathname().to_owned()
    });
}

#[test]
fn mixed_styles() {
    let client = client();
    assert_eq!(
        client.chain("v3").chain("marketing")["busifavor"].pathname(),
        "v3/marketing/busifavor"
    );
    assert_eq!(
        client["v3"].chain("marketing")["busifavor"]
            .chain("_stock_id_")
            .pathname(),
        "v3/marketing/busifavor/{stock_id}"
    );
    assert_eq!(
        client["v3"]["marketing/busifavor"]["stocks"]["_stock_id_"].pathname(),
        "v3/marketing/busifavor/stocks/{stock_id}"
    );
    assert_eq!(
        client.chain("v3/marketing").chain("busifavor/coupons")["use"].pathname(),
        "v3/marketing/busifavor/coupons/use"
    );
    assert_eq!(
        client["v3"]["combineTransactions"]["outTradeNo"]["_combine_out_trade_no_"].pathname(),
        "v3/combine-transactions/out-trade-no/{combine_out_trade_no}"
    );
}

#[test]
fn full_paths_keep_literal_case_single_keys_follow_php() {
    let client = client();
    assert_eq!(client["v3/users/AbcdEF12345"].pathname(), "v3/users/AbcdEF12345");
    assert_eq!(client.chain("v3/users/AbcdEF12345").pathname(), "v3/users/AbcdEF12345");
    assert_eq!(client["v3"]["users/AbcdEF12345"].pathname(), "v3/users/AbcdEF12345");
    // A single key is one PHP property name: normalized with PHP's three regexes.
    assert_eq!(client["v3"]["AbcdEF12345"].pathname(), "v3/abcd-e-f12345");
    assert_eq!(client.chain("v3").chain("AbcdEF12345").pathname(), "v3/abcd-e-f12345");
    assert_eq!(client["V3"].pathname(), "v3");
    assert_eq!(client["v3"]["_out_trade_no_"].pathname(), "v3/{out_trade_no}");
    // Placeholders written in a full path stay as written.
    assert_eq!(
        client["v3/pay/transactions/out-trade-no/{out_trade_no}"].pathname(),
        "v3/pay/transactions/out-trade-no/{out_trade_no}"
    );
}

#[test]
fn index_cache_returns_the_same_node_for_the_same_key() {
    let client = client();
    let a: *const Chain = &client["v3"];
    let b: *const Chain = &client["v3"];
    assert!(std::ptr::eq(a, b), "client[\"v3\"] twice must be one cached node");
    let deep1: *const Chain = &client["v3"]["marketing"]["busifavor"];
    let deep2: *const Chain = &client["v3"]["marketing"]["busifavor"];
    assert!(std::ptr::eq(deep1, deep2));
    let full1: *const Chain = &client["v3/marketing/busifavor"];
    let full2: *const Chain = &client["v3/marketing/busifavor"];
    assert!(std::ptr::eq(full1, full2));
    // Different keys are different nodes.
    let other: *const Chain = &client["v2"];
    assert!(!std::ptr::eq(a, other));
    // Clones of the client share the cache.
    let clone = client.clone();
    let c: *const Chain = &clone["v3"];
    assert!(std::ptr::eq(a, c), "clones share one cache");
    // A second client has its own.
    let second = self::client();
    let d: *const Chain = &second["v3"];
    assert!(!std::ptr::eq(a, d));
}

#[test]
fn index_cache_is_safe_from_many_threads() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 200;
    let client = client();
    let barrier = Arc::new(Barrier::new(THREADS));
    let results: Vec<HashMap<String, usize>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let client = client.clone();
                let barrier = Arc::clone(&barrier);
                s.spawn(move || {
                    barrier.wait();
                    let mut seen: HashMap<String, usize> = HashMap::new();
                    let mut record = |key: String, node: &Chain| {
                        let addr = node as *const Chain as usize;
                        let prev = *seen.entry(key.clone()).or_insert(addr);
                        assert_eq!(prev, addr, "thread {t}: {key} moved between lookups");
                    };
                    for r in 0..ROUNDS {
                        // The same keys from every thread, at the same time.
                        record("v3".into(), &client["v3"]);
                        record("v3.marketing.busifavor".into(), &client["v3"]["marketing"]["busifavor"]);
                        let shared = format!("shared{}", r % 16);
                        let node = &client["v3"][shared.as_str()];
                        assert_eq!(node.pathname(), format!("v3/{shared}"));
                        record(format!("v3.{shared}"), node);
                        // Keys only this thread uses.
                        let own = format!("own{t}x{}", r % 8);
                        let node = &client["v3"][own.as_str()];
                        assert_eq!(node.pathname(), format!("v3/{own}"));
                        record(format!("v3.{own}"), node);
                    }
                    seen
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no thread panics"))
            .collect()
    });

    // Every thread saw the same node for each shared key, and the main thread sees it too.
    let mut all: HashMap<String, usize> = HashMap::new();
    for seen in &results {
        for (key, addr) in seen {
            let first = *all.entry(key.clone()).or_insert(*addr);
            assert_eq!(first, *addr, "{key}: threads got different nodes");
        }
    }
    assert_eq!(all["v3"], &client["v3"] as *const Chain as usize);
    assert_eq!(
        all["v3.marketing.busifavor"],
        &client["v3"]["marketing"]["busifavor"] as *const Chain as usize
    );
    // Different keys are different nodes.
    let mut addrs: Vec<usize> = all.values().copied().collect();
    addrs.sort_unstable();
    addrs.dedup();
    assert_eq!(addrs.len(), all.len(), "distinct keys must be distinct nodes");
    assert_eq!(all.len(), 2 + 16 + THREADS * 8);
}

#[test]
fn chain_returns_owned_nodes_and_leaves_the_cache_alone() {
    let client = client();
    let cached: *const Chain = &client["x"];
    let deep: *const Chain = &client["x"]["y"];
    for _ in 0..100 {
        let owned = client.chain("x");
        assert!(!std::ptr::eq(&owned, cached), "chain() is not the cached node");
        assert_eq!(owned.pathname(), "x");
        let owned_child = client["x"].chain("y");
        assert!(!std::ptr::eq(&owned_child, deep));
        assert_eq!(owned_child.pathname(), "x/y");
    }
    assert!(
        std::ptr::eq(cached, &client["x"]),
        "chain() must not replace the cached node"
    );
    assert!(std::ptr::eq(deep, &client["x"]["y"]));

    // Indexing an owned node caches inside that node, never inside the client.
    let owned = client.chain("x");
    let via_owned: *const Chain = &owned["y"];
    assert!(!std::ptr::eq(via_owned, deep));
    assert!(std::ptr::eq(via_owned, &owned["y"]));
    assert!(std::ptr::eq(deep, &client["x"]["y"]));
}

#[test]
fn owned_nodes_outlive_their_client() {
    let (cloned, chained) = {
        let client = client();
        let cloned = client["v3"]["marketing"]["busifavor"]["_stock_id_"].clone();
        let chained = client.chain("v3/users").chain("AbcdEF");
        (cloned, chained)
    };
    assert_eq!(cloned.pathname(), "v3/marketing/busifavor/{stock_id}");
    assert_eq!(chained.pathname(), "v3/users/abcd-e-f");
    // They keep working as chain heads after the client is gone.
    assert_eq!(cloned["send"].pathname(), "v3/marketing/busifavor/{stock_id}/send");
    assert_eq!(chained.chain("Id").pathname(), "v3/users/abcd-e-f/id");
    assert!(format!("{chained:?}").contains("v3/users/abcd-e-f"));
}

#[test]
fn client_and_chain_are_send_sync() {
    const fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Client>();
    send_sync::<Chain>();
}
