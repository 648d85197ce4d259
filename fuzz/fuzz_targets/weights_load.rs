//! safetensors bytes (tensors and metadata) → `Model`: a value or an error, never a panic; a
//! loaded model writes back to bytes that load to the same model.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = emunet::Model::from_bytes(data) {
        let again = emunet::Model::from_bytes(&model.to_bytes().unwrap()).unwrap();
        assert_eq!(again.tensors, model.tensors);
    }
});
