//! `.npy` reader on any bytes (never a panic), and the writer/reader round trip: any float32
//! array (bits included) comes back exactly.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok((values, rows, cols)) = emunet::npy::from_bytes(data, "fuzz.npy") {
        assert_eq!(values.len(), rows * cols);
    }
    // The round trip: the first byte picks the column count, the rest are float32 words.
    if let Some((&c, rest)) = data.split_first() {
        let cols = 1 + c as usize % 8;
        let values: Vec<f32> = rest
            .chunks_exact(4)
            .map(|w| f32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let rows = values.len() / cols;
        let values = &values[..rows * cols];
        let bytes = emunet::npy::to_bytes(values, rows, cols);
        let (back, r, k) = emunet::npy::from_bytes(&bytes, "round-trip.npy").unwrap();
        assert_eq!((r, k), (rows, cols));
        assert!(back.iter().zip(values).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
});
