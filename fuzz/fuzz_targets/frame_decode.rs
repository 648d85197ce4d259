//! PNG/TIFF bytes → `Frame`: a value or an error, never a panic, never more pixels than claimed.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((frame, _)) = emunet::Frame::decode(data, std::path::Path::new("fuzz.png")) {
        assert_eq!(frame.len(), frame.width * frame.height);
    }
});
