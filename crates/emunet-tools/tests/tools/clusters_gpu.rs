//! GPU clusters (`label_components.wgsl` + `cluster_moments.wgsl`) against the CPU reference
//! (`clusters::label`, `clusters::measure`): labels equal pixel for pixel and clusters equal field
//! for field (f64 ==, no tolerance), on random masks of many shapes and densities with both
//! connectivities, with and without weights, and on 20 simulated frames with the weights
//! `segment` uses. The labels buffer is poisoned before every run.

use crate::common::*;
use emunet::cluster_list::darkness_gl;
use emunet::clusters::{self, Cluster, Connectivity};
use emunet::clusters_gpu::GpuClusters;
use emunet_tools::simulate::{Preset, SimParams, View};
use rand::RngExt;

/// Blobs: a few filled discs plus noise, so clusters are large and shaped like grains.
fn blob_mask(seed: u64, w: usize, h: usize) -> Vec<u8> {
    let mut r = rng(seed);
    let mut m = random_mask(seed + 1000, w, h, 0.05);
    for _ in 0..(w * h / 200).max(1) {
        let (cx, cy, rad) = (
            r.random_range(0.0..w as f64),
            r.random_range(0.0..h as f64),
            r.random_range(0.5..6.0),
        );
        for y in 0..h {
            for x in 0..w {
                if (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) <= rad * rad {
                    m[y * w + x] = 1 + (x % 200) as u8;
                }
            }
        }
    }
    m
}

fn assert_same(what: &str, cpu: &[Cluster], gpu: &[Cluster]) {
    assert_eq!(cpu.len(), gpu.len(), "{what}: cluster count");
    for (a, b) in cpu.iter().zip(gpu) {
        assert_eq!(a, b, "{what}: cluster {}", a.id);
    }
}

#[test]
fn labels_and_clusters_equal_the_cpu_on_random_masks() {
    let ctx = ctx();
    let mut total = 0;
    for (seed, (w, h)) in [
        (1, 1),
        (1, 9),
        (9, 1),
        (17, 13),
        (40, 31),
        (64, 64),
        (100, 80),
        (129, 67),
        (33, 257),
    ]
    .into_iter()
    .enumerate()
    {
        for (d, density) in [0.05, 0.3, 0.5, 0.62].into_iter().enumerate() {
            for conn in [Connectivity::Four, Connectivity::Eight] {
                let seed = (seed * 10 + d) as u64;
                let mask = if density == 0.05 {
                    blob_mask(seed, w, h)
                } else {
                    random_mask(seed, w, h, density)
                };
                let weight: Vec<f32> = {
                    let mut r = rng(seed + 100);
                    // Mixed signs, zeros and ties, so the clamp and the peak's tie rule count.
                    (0..w * h)
                        .map(|_| match r.random_range(0..4) {
                            0 => 0.0,
                            1 => r.random_range(-5.0..0.0),
                            2 => r.random_range(0..8) as f32,
                            _ => r.random_range(0.0..300.0),
                        })
                        .collect()
                };
                let what = format!("{w}×{h} density {density} {conn:?}");
                let (labels, n) = clusters::label(&mask, w, h, conn);
                let mut gpu = GpuClusters::new(ctx.clone(), conn);
                gpu.set_poison(true);
                let (gpu_labels, gpu_n) = gpu.label(&mask, w, h).unwrap();
                assert_eq!(gpu_n, n, "{what}: count");
                if let Some(i) = (0..w * h).find(|&i| labels[i] != gpu_labels[i]) {
                    panic!(
                        "{what}: label of pixel {i} is {} on the CPU, {} on the GPU",
                        labels[i], gpu_labels[i]
                    );
                }
                let shift = (0.25, -0.5);
                let cpu = clusters::measure(&labels, n, w, Some(&weight), shift);
                assert_same(
                    &format!("{what} weighted"),
                    &cpu,
                    &gpu.find(&mask, w, h, Some(&weight), shift).unwrap(),
                );
                let cpu = clusters::measure(&labels, n, w, None, (0.0, 0.0));
                assert_same(
                    &format!("{what} unweighted"),
                    &cpu,
                    &gpu.find(&mask, w, h, None, (0.0, 0.0)).unwrap(),
                );
                total += n;
            }
        }
    }
    println!("{total} clusters equal");
}

#[test]
fn one_cluster_spanning_the_frame_and_empty_masks() {
    let ctx = ctx();
    // A serpentine: one component whose union-find trees are as deep as they get.
    let (w, h) = (61, 45);
    let mut mask = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let on = y % 2 == 0 || (y % 4 == 1 && x == w - 1) || (y % 4 == 3 && x == 0);
            mask[y * w + x] = on as u8 * 255;
        }
    }
    for conn in [Connectivity::Four, Connectivity::Eight] {
        let mut gpu = GpuClusters::new(ctx.clone(), conn);
        gpu.set_poison(true);
        let weight: Vec<f32> = (0..w * h).map(|i| (i % 7) as f32).collect();
        let cpu = clusters::find_clusters(&mask, w, h, conn, Some(&weight), (0.0, 0.0));
        assert_eq!(cpu.len(), 1);
        assert_same(
            "serpentine",
            &cpu,
            &gpu.find(&mask, w, h, Some(&weight), (0.0, 0.0)).unwrap(),
        );
        let empty = vec![0u8; w * h];
        assert!(gpu.find(&empty, w, h, None, (0.0, 0.0)).unwrap().is_empty());
        let full = vec![255u8; w * h];
        assert_same(
            "full",
            &clusters::find_clusters(&full, w, h, conn, Some(&weight), (0.0, 0.0)),
            &gpu.find(&full, w, h, Some(&weight), (0.0, 0.0)).unwrap(),
        );
    }
}

#[test]
fn twenty_simulated_frames_give_the_cpu_clusters() {
    let ctx = ctx();
    let mut gpu = GpuClusters::new(ctx, Connectivity::Eight);
    gpu.set_poison(true);
    let presets = [Preset::Easy, Preset::Nominal, Preset::Hard, Preset::Mixed];
    let mut total = 0;
    for seed in 0..20u64 {
        let mut p = SimParams::preset(presets[seed as usize % 4]);
        (p.width, p.height) = (320, 256);
        let sim = View::new(&p, 9100 + seed, 0)
            .unwrap()
            .render("t".into(), 20.0);
        let (frame, mask) = (sim.image, sim.truth);
        // The weights `segment` measures with: darkness against the frame's median.
        let median = emunet::reference::frame_median(&frame) as f32;
        let weight: Vec<f32> = (0..frame.len())
            .map(|i| (median - frame.value(i) as f32).max(0.0))
            .collect();
        let cpu = clusters::find_clusters(
            &mask,
            p.width,
            p.height,
            Connectivity::Eight,
            Some(&weight),
            (0.0, 0.0),
        );
        let found = gpu
            .find(&mask, p.width, p.height, Some(&weight), (0.0, 0.0))
            .unwrap();
        assert_same(&format!("frame {seed}"), &cpu, &found);
        // The signed darkness (column pattern removed) is not integer: the fixed point counts.
        let dark = darkness_gl(&frame, median);
        let cpu = clusters::find_clusters(
            &mask,
            p.width,
            p.height,
            Connectivity::Eight,
            Some(&dark),
            (-0.5, -0.5),
        );
        let found = gpu
            .find(&mask, p.width, p.height, Some(&dark), (-0.5, -0.5))
            .unwrap();
        assert_same(&format!("frame {seed} darkness"), &cpu, &found);
        total += cpu.len();
    }
    println!("{total} clusters equal over 20 frames");
}

#[test]
fn wrong_sizes_are_errors() {
    let mut gpu = GpuClusters::new(ctx(), Connectivity::Eight);
    assert!(gpu.find(&[0u8; 10], 3, 3, None, (0.0, 0.0)).is_err());
    assert!(
        gpu.find(&[0u8; 9], 3, 3, Some(&[0.0; 4]), (0.0, 0.0))
            .is_err()
    );
    assert!(gpu.find(&[], 0, 0, None, (0.0, 0.0)).is_err());
}

#[test]
fn more_clusters_than_the_first_guess_are_all_read() {
    // 22,500 isolated pixels: more rows than the 4,096 the first frame's table copy guesses, so
    // the table is read in a second copy; the second frame's guess then covers them.
    let (w, h) = (300, 300);
    let mask: Vec<u8> = (0..w * h)
        .map(|i| {
            if (i % w) % 2 == 0 && (i / w) % 2 == 0 {
                255
            } else {
                0
            }
        })
        .collect();
    let weight: Vec<f32> = (0..w * h).map(|i| (i % 13) as f32 * 0.5).collect();
    let cpu = clusters::find_clusters(&mask, w, h, Connectivity::Eight, Some(&weight), (0.0, 0.0));
    assert_eq!(cpu.len(), 22_500);
    let mut gpu = GpuClusters::new(ctx(), Connectivity::Eight);
    for round in 0..2 {
        let found = gpu.find(&mask, w, h, Some(&weight), (0.0, 0.0)).unwrap();
        assert_same(&format!("round {round}"), &cpu, &found);
    }
}

/// The network's clusters on the GPU (`Unet::set_gpu_clusters`): the mask of `segment` labelled and
/// measured with weights max(0, median − p) equal `clusters::find_clusters` of that mask exactly,
/// on both engines, 8- and 16-bit frames, with a flat-field (weights from the corrected frame;
/// there the fused engine delivers u8 probabilities, its mask written by the last conv all the
/// same), and after a threshold change.
#[test]
fn network_clusters_on_the_gpu_equal_the_cpu() {
    use emunet::flatfield::FlatField;
    use emunet::unet::Engine;
    use emunet::{Frame, Model, Unet};
    let model = Model::shipped().unwrap();
    let mut p = SimParams::preset(Preset::Nominal);
    (p.width, p.height) = (160, 128);
    let frames8: Vec<Frame> = (0..3)
        .map(|s| {
            View::new(&p, 9300 + s, 0)
                .unwrap()
                .render("t".into(), 20.0)
                .image
        })
        .collect();
    let to16 = |f: &Frame| {
        let v: Vec<u16> = (0..f.len()).map(|i| (f.value(i) * 257) as u16).collect();
        Frame::from_u16(f.width, f.height, v).unwrap()
    };
    let flat = FlatField::estimate(&frames8).unwrap();
    let mut checked = 0;
    for engine in [Engine::Ops, Engine::Fused] {
        for (frames, flat) in [
            (frames8.clone(), None),
            (frames8.iter().map(to16).collect::<Vec<_>>(), None),
            (frames8.clone(), Some(&flat)),
        ] {
            let mut unet = Unet::new(ctx(), &model).unwrap();
            unet.set_engine(engine);
            unet.set_flatfield(flat);
            unet.set_gpu_clusters(true);
            if engine == Engine::Fused && flat.is_some() {
                unet.set_prob_format(emunet::kernels::ProbFormat::U8);
            }
            for (i, frame) in frames.iter().enumerate() {
                if i == 2 {
                    unet.set_threshold(0.3).unwrap();
                }
                let seg = unet.segment(frame).unwrap();
                let measured = seg.corrected.as_ref().unwrap_or(frame);
                let median = emunet::reference::frame_median(measured) as f32;
                let weight: Vec<f32> = (0..measured.len())
                    .map(|i| (median - measured.value(i) as f32).max(0.0))
                    .collect();
                let (w, h) = (frame.width, frame.height);
                let cpu = clusters::find_clusters(
                    &seg.mask(),
                    w,
                    h,
                    Connectivity::Eight,
                    Some(&weight),
                    (0.0, 0.0),
                );
                let gpu = seg.clusters.as_ref().expect("GPU clusters were asked for");
                assert!(!cpu.is_empty());
                assert_same(
                    &format!(
                        "{engine:?} {}-bit flat {} frame {i}",
                        frame.bits(),
                        flat.is_some()
                    ),
                    &cpu,
                    gpu,
                );
                checked += cpu.len();
            }
        }
    }
    println!("{checked} network clusters equal");
}
