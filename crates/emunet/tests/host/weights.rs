//! The weights file contract (design.md §3): round trip, and a refusal naming the problem for each
//! kind of bad file. CPU only.

use emunet::Model;
use emunet::model::spec;
use std::collections::HashMap;

/// name, shape, dtype, little-endian bytes
type Entry = (String, Vec<usize>, safetensors::Dtype, Vec<u8>);

/// Serialises `tensors` (name → (shape, dtype, bytes)) with `metadata` as safetensors.
fn write(tensors: &[Entry], metadata: &HashMap<String, String>) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, s, d, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    safetensors::serialize(views, Some(metadata.clone())).unwrap()
}

fn good_parts(depth: usize, channels: usize) -> (Vec<Entry>, HashMap<String, String>) {
    let model = Model::init_he(depth, channels, 3).unwrap();
    let tensors = model
        .tensors
        .iter()
        .map(|(n, (s, v))| {
            (
                n.clone(),
                s.clone(),
                safetensors::Dtype::F32,
                bytemuck::cast_slice(v).to_vec(),
            )
        })
        .collect();
    (tensors, model.metadata.into_iter().collect())
}

fn refused(bytes: &[u8], needle: &str) {
    let err = Model::from_bytes(bytes).expect_err("the file must be refused");
    println!("refused: {err}");
    assert!(
        err.contains(needle),
        "error {err:?} should mention {needle:?}"
    );
}

#[test]
fn round_trip_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut model = Model::init_he(3, 8, 42).unwrap();
    model.set_threshold(0.4).unwrap();
    model.metadata.insert("epochs".into(), "12".into());
    model.save(&path).unwrap();
    let back = Model::load(&path).unwrap();
    assert_eq!(back, model);
    assert_eq!(back.metadata["format"], "emunet-unet/1");
    assert_eq!(back.metadata["epochs"], "12");
    // No temporary files are left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn names_and_layouts_follow_pytorch() {
    let s: HashMap<String, Vec<usize>> = spec(2, 8).into_iter().collect();
    assert_eq!(s["enc0.conv1.weight"], vec![8, 1, 3, 3]);
    assert_eq!(s["enc1.conv2.weight"], vec![16, 16, 3, 3]);
    assert_eq!(s["bottleneck.conv1.weight"], vec![32, 16, 3, 3]);
    assert_eq!(s["dec1.up.weight"], vec![32, 16, 2, 2]);
    assert_eq!(s["dec1.conv1.weight"], vec![16, 32, 3, 3]);
    assert_eq!(s["dec0.up.bias"], vec![8]);
    assert_eq!(s["head.weight"], vec![1, 8, 1, 1]);
    assert_eq!(s["head.bias"], vec![1]);
    assert_eq!(s.len(), 2 * (2 * 2 + 2 + 2 * 2) + 2 * 2 + 2);
}

#[test]
fn he_init_is_reproducible_and_scaled() {
    let a = Model::init_he(2, 8, 7).unwrap();
    assert_eq!(a, Model::init_he(2, 8, 7).unwrap());
    assert_ne!(a, Model::init_he(2, 8, 8).unwrap());
    let w = a.tensor("enc1.conv2.weight");
    let var = w.iter().map(|v| (v * v) as f64).sum::<f64>() / w.len() as f64;
    let expected = 2.0 / (16.0 * 9.0);
    assert!(
        (var / expected - 1.0).abs() < 0.15,
        "variance {var} vs He {expected}"
    );
    assert!(a.tensor("enc1.conv2.bias").iter().all(|&b| b == 0.0));
}

#[test]
fn missing_tensor() {
    let (mut t, m) = good_parts(2, 4);
    t.retain(|(n, ..)| n != "dec1.conv2.bias");
    refused(&write(&t, &m), "missing tensor `dec1.conv2.bias`");
}

#[test]
fn extra_tensor() {
    let (mut t, m) = good_parts(2, 4);
    t.push((
        "enc9.conv1.weight".into(),
        vec![1],
        safetensors::Dtype::F32,
        vec![0; 4],
    ));
    refused(&write(&t, &m), "unexpected tensor(s) enc9.conv1.weight");
}

#[test]
fn wrong_shape() {
    let (mut t, m) = good_parts(2, 4);
    let e = t.iter_mut().find(|(n, ..)| n == "dec0.up.weight").unwrap();
    e.1 = vec![4, 8, 2, 2]; // transposed in/out: same element count, wrong layout
    refused(
        &write(&t, &m),
        "tensor `dec0.up.weight` has shape [4, 8, 2, 2], expected [8, 4, 2, 2]",
    );
}

#[test]
fn wrong_dtype() {
    let (mut t, m) = good_parts(2, 4);
    let e = t.iter_mut().find(|(n, ..)| n == "head.bias").unwrap();
    e.2 = safetensors::Dtype::F64;
    e.3 = vec![0; 8];
    refused(&write(&t, &m), "tensor `head.bias` has dtype F64");
}

#[test]
fn nan_and_inf() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let (mut t, m) = good_parts(2, 4);
        let e = t
            .iter_mut()
            .find(|(n, ..)| n == "enc1.conv1.weight")
            .unwrap();
        e.3[20..24].copy_from_slice(&bad.to_le_bytes());
        refused(
            &write(&t, &m),
            "tensor `enc1.conv1.weight` holds a non-finite value",
        );
    }
}

#[test]
fn bad_metadata() {
    let cases: [(&str, Option<&str>, &str); 7] = [
        (
            "format",
            Some("something-else/2"),
            "unknown format `something-else/2`",
        ),
        ("format", None, "metadata has no `format`"),
        ("depth", Some("two"), "`depth` = \"two\" is not an integer"),
        ("base_channels", None, "metadata has no `base_channels`"),
        ("threshold", Some("1.5"), "threshold 1.5 is not in (0, 1)"),
        (
            "normalization",
            Some("minmax"),
            "unknown normalization `minmax`",
        ),
        ("depth", Some("3"), "missing tensor"), // claims depth 3, holds a depth-2 net
    ];
    for (key, value, needle) in cases {
        let (t, mut m) = good_parts(2, 4);
        match value {
            Some(v) => m.insert(key.into(), v.into()),
            None => m.remove(key),
        };
        refused(&write(&t, &m), needle);
    }
}

#[test]
fn not_a_safetensors_file() {
    refused(
        b"\x89PNG\r\n\x1a\n not weights at all",
        "not a safetensors file",
    );
    refused(b"", "not a safetensors file");
    let (t, m) = good_parts(1, 2);
    let bytes = write(&t, &m);
    refused(&bytes[..bytes.len() - 10], "not a safetensors file"); // truncated
}

#[test]
fn load_reports_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.safetensors");
    std::fs::write(&path, b"garbage").unwrap();
    let err = Model::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("bad.safetensors") && err.contains("not a safetensors file"),
        "{err}"
    );
    let missing = Model::load(&dir.path().join("none.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("none.safetensors"), "{missing}");
}

#[test]
fn invalid_shapes_refused_at_init() {
    assert!(Model::init_he(0, 8, 0).is_err());
    assert!(Model::init_he(9, 8, 0).is_err());
    assert!(Model::init_he(2, 0, 0).is_err());
}

#[test]
fn normalization_rule_is_kept_and_old_files_read_as_zscore() {
    use emunet::model::{DEFAULT_NORMALIZATION, Normalization};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let mut model = Model::init_he(2, 4, 1).unwrap();
    assert_eq!(model.normalization(), DEFAULT_NORMALIZATION);
    for rule in [Normalization::Zscore, Normalization::Median] {
        model.set_normalization(rule);
        model.save(&path).unwrap();
        let back = Model::load(&path).unwrap();
        assert_eq!(back.normalization(), rule);
        assert_eq!(back.metadata["normalization"], rule.name());
    }
    // A file of the first version (normalization = "zscore") is read as z-scored.
    model
        .metadata
        .insert("normalization".into(), "zscore".into());
    let back = Model::from_bytes(&model.to_bytes().unwrap()).unwrap();
    assert_eq!(back.normalization(), Normalization::Zscore);
}
