//! What `cargo package` ships: the library, examples and docs — never CI, scripts, the interop package,
//! the fuzz targets, the benches and property tests (`dev/`), or the tests' throwaway private keys.

#[test]
fn the_package_ships_the_library_and_no_private_key() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["package", "--list", "--allow-dirty", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("offline") {
        // A machine that never fetched the dependencies cannot list offline; CI has them.
        eprintln!("skipped: {stderr}");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    for needed in [
        "src/lib.rs",
        "Cargo.toml",
        "README.md",
        "LICENSE",
        "CHANGELOG.md",
        "examples/quickstart.rs",
    ] {
        assert!(files.iter().any(|f| f == needed), "{needed} is missing from {files:?}");
    }
    // crates.io renders the README without the repository: every link must be absolute (or an anchor).
    let readme = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for (i, _) in readme.match_indices("](") {
        let target = &readme[i + 2..];
        assert!(
            target.starts_with("http") || target.starts_with('#'),
            "a relative README link: {}",
            &target[..target.find(')').unwrap_or(target.len()).min(60)]
        );
    }
    for file in &files {
        for refused in [
            ".ci/", "scripts/", "interop/", "fuzz/", "tests/", "dev/", "benches/", ".github/",
        ] {
            assert!(!file.starts_with(refused), "{file} is shipped");
        }
        for material in [".pem", ".p12", ".pfx", ".key", ".der", ".b64"] {
            assert!(!file.ends_with(material), "{file} looks like key material");
        }
    }
}
