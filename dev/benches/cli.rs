//! `wxpay` start-up: the CPU time (user + system) of one whole process, from `getrusage(RUSAGE_CHILDREN)`
//! around each run, so criterion's "time" column is CPU, not wall time. See BENCHMARKS.md.
//!
//! ```text
//! scripts/bench-cli                             # builds wxpay (and a jitter-on wxpay to compare), then runs this
//! cargo build --release --features cli --bin wxpay && cargo bench -p wechatpay-dev --bench cli   # this build only
//! ```
//!
//! The `wxpay` measured is `WECHATPAY_BENCH_WXPAY` when set, else `release/wxpay` in the target directory this
//! bench was built in (this file lives in the `wechatpay-dev` workspace member, which does not build `wxpay`
//! itself): build it first, as `scripts/bench-cli` does.
//!
//! Cases (group `cli_startup`):
//! - `wxpay_dry_run`: `wxpay get … --dry-run` — settings read, keys loaded, catalog checked, request signed
//!   and printed; nothing sent.
//! - `wxpay_sandbox_call`: the same call sent to the embedded sandbox on 127.0.0.1 (started in this
//!   process, whose own CPU is not counted) and its answer verified.
//! - `wxpay_jitter_dry_run`, `wxpay_jitter_sandbox_call`: the same with the binary named by
//!   `WECHATPAY_BENCH_WXPAY_JITTER`, built with AWS-LC's CPU-jitter entropy source on (as crates.io's
//!   default build is).
//! - `node_wxpay_call`, `node_wxpay_help`: wechatpay-axios-plugin's `wxpay` (from `npm install --prefix
//!   interop`) making the same call, and printing its help; skipped when it is not installed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use serde_json::Value;
use wechatpay::mock::MockServer;

/// The CPU time all waited-for children of this process have used so far.
fn children_cpu() -> Duration {
    // SAFETY: `getrusage` writes one `rusage` into the zeroed struct it is given, and nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Runs `program args` to completion, its output discarded; it must succeed.
fn run(program: &Path, args: &[String]) {
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("WXPAY_CONFIG_DIR", std::env::temp_dir().join("wxpay-bench-no-profiles"))
        .status()
        .expect("the program starts");
    assert!(status.success(), "{} {args:?} failed: {status}", program.display());
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// The `wxpay` to measure: `WECHATPAY_BENCH_WXPAY`, else `<target dir>/release/wxpay` beside this bench's own
/// `deps/` directory. Panics, saying how to build it, when there is no such file.
fn wxpay() -> PathBuf {
    let (path, from) = match std::env::var_os("WECHATPAY_BENCH_WXPAY") {
        Some(path) => (PathBuf::from(path), "WECHATPAY_BENCH_WXPAY"),
        None => {
            // This bench is `<target dir>/<profile>/deps/cli-<hash>`; `wxpay` is `<target dir>/<profile>/wxpay`.
            let exe = std::env::current_exe().expect("the bench's own path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("the bench runs from <target>/<profile>/deps");
            (
                profile_dir.join(format!("wxpay{}", std::env::consts::EXE_SUFFIX)),
                "the default",
            )
        }
    };
    assert!(
        path.is_file(),
        "no wxpay binary at {} ({from}): build it first with `cargo build --release --features cli --bin wxpay` \
         (or run scripts/bench-cli, which does), or set WECHATPAY_BENCH_WXPAY to a wxpay binary",
        path.display()
    );
    path
}

fn cli_startup(c: &mut Criterion) {
    let wxpay = wxpay();
    let dir = std::env::temp_dir().join(format!("wechatpay-bench-cli-{}", std::process::id()));
    let server = MockServer::builder()
        .state_dir(dir.join("state"))
        .start()
        .expect("the sandbox starts");
    let info: Value = server.connection_info().expect("connection info");
    let config = dir.join("config.json");
    std::fs::write(&config, info.to_string()).expect("the config is written");
    let config = config.display().to_string();
    let path = "v3/marketing/busifavor/stocks/100088";
    let call = strings(&["--config", &config, "get", path]);
    let dry_run = strings(&["--config", &config, "get", path, "--dry-run"]);

    let mut cases: Vec<(&str, PathBuf, Vec<String>)> = vec![
        ("wxpay_dry_run", wxpay.clone(), dry_run.clone()),
        ("wxpay_sandbox_call", wxpay, call.clone()),
    ];
    if let Some(jitter) = std::env::var_os("WECHATPAY_BENCH_WXPAY_JITTER") {
        cases.push(("wxpay_jitter_dry_run", jitter.clone().into(), dry_run));
        cases.push(("wxpay_jitter_sandbox_call", jitter.into(), call));
    }
    let node = Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/node_modules/.bin/wxpay");
    if node.is_file() {
        let str_of = |key: &str| info[key].as_str().unwrap_or_default().to_owned();
        let node_call = vec![
            // The Node CLI spells the path as a dotted chain and takes its settings as `-c.` flags.
            path.replace('/', "."),
            "-m".into(),
            "get".into(),
            "-u".into(),
            str_of("base_uri"),
            format!("-c.mchid={}", str_of("mchid")),
            format!("-c.serial={}", str_of("serial")),
            format!("-c.privateKey={}", str_of("private_key")),
            format!("-c.certs.{}={}", str_of("public_key_id"), str_of("public_key")),
        ];
        cases.push(("node_wxpay_call", node.clone(), node_call));
        cases.push(("node_wxpay_help", node, strings(&["--help"])));
    } else {
        eprintln!("node_wxpay_*: skipped (no interop/node_modules/.bin/wxpay; `npm install --prefix interop`)");
    }

    let mut g = c.benchmark_group("cli_startup");
    g.sample_size(10);
    for (name, program, args) in &cases {
        run(program, args); // warm the page cache; a failing case stops here, loudly
        g.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let before = children_cpu();
                for _ in 0..iters {
                    run(program, args);
                }
                children_cpu() - before
            })
        });
    }
    g.finish();
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(cli, cli_startup);
criterion_main!(cli);
