//! Clusters CSV text → positions: a value or an error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = emunet::clusters::csv_positions(&String::from_utf8_lossy(data), "fuzz.csv");
});
