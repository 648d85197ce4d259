//! The committed header `include/emunet.h` is what cbindgen generates from `src/lib.rs` with
//! `cbindgen.toml`: this test fails when they drift. `EMUNET_UPDATE_HEADER=1 cargo test -p
//! emunet-c --test header` rewrites it.

#[test]
fn committed_header_matches_the_code() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config =
        cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).expect("cbindgen.toml");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("UTF-8 header");
    let path = format!("{dir}/include/emunet.h");
    if std::env::var_os("EMUNET_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "bindings/c/include/emunet.h differs from what cbindgen generates from src/lib.rs; \
         run `EMUNET_UPDATE_HEADER=1 cargo test -p emunet-c --test header` and commit it"
    );
}
