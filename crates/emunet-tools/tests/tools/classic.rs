//! The classical pipeline: GPU statistics, filter and threshold against the CPU reference
//! (responses within 1e-4, identical masks up to pixels within 1e-4 of the threshold, identical
//! clusters), the GPU labelling, cluster sums and area cut exactly equal to the CPU's on the same
//! response, every kernel, 8- and 16-bit frames, and the filter's hand-checkable behaviour.

use crate::common::*;
use emunet::Frame;
use emunet::clusters::{self, Connectivity};
use emunet::clusters_gpu::Labelling;
use emunet_tools::classic::{Classic, ClassicParams, FilterKernel, ThresholdRule, reference};
use emunet_tools::simulate::{Preset, SimParams, View};
use rand::RngExt;

fn simulated(seed: u64, w: usize, h: usize) -> Frame {
    let mut p = SimParams::preset(Preset::Nominal);
    p.width = w;
    p.height = h;
    View::new(&p, seed, 0)
        .unwrap()
        .render("t".into(), 20.0)
        .image
}

fn compare(frame: &Frame, params: ClassicParams, what: &str) {
    for labelling in [Labelling::Gpu, Labelling::Host] {
        compare_with(
            frame,
            params,
            &format!("{what} ({labelling:?} labelling)"),
            labelling,
        );
    }
}

fn compare_with(frame: &Frame, params: ClassicParams, what: &str, labelling: Labelling) {
    let ctx = ctx();
    let cpu = reference::run(frame, &params);
    let mut classic = Classic::new(ctx, params);
    classic.set_labelling(labelling);
    let gpu = classic.run(frame).unwrap();
    assert_eq!(gpu.gpu_labelling, labelling == Labelling::Gpu);
    assert_close(&format!("{what} response"), &cpu.response, &gpu.response);
    assert!(
        (cpu.threshold - gpu.threshold).abs() <= 1e-3 * cpu.threshold.abs().max(1.0),
        "{what}: thresholds {} vs {}",
        cpu.threshold,
        gpu.threshold
    );
    let t = gpu.threshold;
    // On the GPU's own response, the CPU's labelling, sums and area cut give exactly the GPU's
    // clusters and mask: the labelling and the cluster sums run on the GPU and are exact.
    let (w, h) = (gpu.width, gpu.height);
    let own_mask = reference::threshold(&gpu.response, w, h, t, params.border);
    let weight: Vec<f32> = gpu.response.iter().map(|&v| (v - t).max(0.0)).collect();
    let (labels, n) = clusters::label(&own_mask, w, h, params.connectivity);
    let all = clusters::measure(&labels, n, w, Some(&weight), params.kernel.taps().4);
    let keep: Vec<bool> = all
        .iter()
        .map(|c| (params.min_area..=params.max_area).contains(&c.area))
        .collect();
    let kept = clusters::filter_area(all, params.min_area, params.max_area);
    assert_eq!(kept.len(), gpu.clusters.len(), "{what}: GPU cluster count");
    for (a, b) in kept.iter().zip(&gpu.clusters) {
        assert_eq!(a, b, "{what}: GPU cluster {}", a.id);
    }
    for (i, &l) in labels.iter().enumerate() {
        let on = l != 0 && keep[l as usize - 1];
        assert_eq!(gpu.mask[i] != 0, on, "{what}: GPU mask at pixel {i}");
    }
    let mut differ = 0;
    for i in 0..cpu.mask.len() {
        if cpu.mask[i] != gpu.mask[i] {
            // Only a pixel whose response sits at the threshold may flip.
            assert!(
                (cpu.response[i] - t).abs() <= 1e-4 * t.abs().max(1.0),
                "{what}: mask differs at {i} (r = {}, t = {t})",
                cpu.response[i]
            );
            differ += 1;
        }
    }
    if differ == 0 {
        assert_eq!(
            cpu.clusters.len(),
            gpu.clusters.len(),
            "{what}: cluster count"
        );
        for (a, b) in cpu.clusters.iter().zip(&gpu.clusters) {
            assert_eq!(
                (a.area, a.x0, a.y0, a.x1, a.y1),
                (b.area, b.x0, b.y0, b.x1, b.y1),
                "{what}: cluster {}",
                a.id
            );
            for (u, v) in [
                (a.x, b.x),
                (a.y, b.y),
                (a.cog_x, b.cog_x),
                (a.cog_y, b.cog_y),
            ] {
                assert!(
                    (u - v).abs() < 1e-4,
                    "{what}: cluster {} position {u} vs {v}",
                    a.id
                );
            }
            assert!((a.volume - b.volume).abs() <= 1e-4 * a.volume.abs().max(1.0));
        }
    }
    println!(
        "{what}: {} clusters, threshold {t}, {differ} tie pixels",
        gpu.clusters.len()
    );
}

#[test]
fn fedra_on_simulated_frames() {
    compare(
        &simulated(1, 256, 200),
        ClassicParams::default(),
        "fedra6x6 256x200",
    );
    compare(
        &simulated(2, 97, 61),
        ClassicParams::default(),
        "fedra6x6 97x61",
    );
}

#[test]
fn every_kernel_and_connectivity() {
    let frame = simulated(3, 120, 90);
    for kernel in [
        FilterKernel::Fedra6x6,
        FilterKernel::Laplace3x3,
        FilterKernel::Ring5x5,
        FilterKernel::Hat5x5,
    ] {
        for connectivity in [Connectivity::Four, Connectivity::Eight] {
            let params = ClassicParams {
                kernel,
                connectivity,
                threshold: ThresholdRule::Fixed(20.0),
                ..Default::default()
            };
            compare(&frame, params, &format!("{kernel:?} {connectivity:?}"));
        }
    }
}

#[test]
fn sixteen_bit_and_tiny_frames() {
    let mut r = rng(4);
    let data: Vec<u16> = (0..33 * 17)
        .map(|_| {
            if r.random_bool(0.05) {
                r.random_range(10000..30000)
            } else {
                r.random_range(50000..56000)
            }
        })
        .collect();
    compare(
        &Frame::from_u16(33, 17, data).unwrap(),
        ClassicParams::default(),
        "16-bit 33x17",
    );
    let data: Vec<u8> = (0..5 * 3).map(|_| r.random_range(0..=255)).collect();
    compare(
        &Frame::from_u8(5, 3, data).unwrap(),
        ClassicParams {
            border: 0,
            ..Default::default()
        },
        "8-bit 5x3 no border",
    );
    compare(
        &Frame::from_u8(1, 1, vec![7]).unwrap(),
        ClassicParams {
            border: 0,
            ..Default::default()
        },
        "1x1",
    );
}

#[test]
fn dark_frame_skips_equalisation() {
    // Median below 64: no equalisation, the frame is used as it is.
    let mut r = rng(5);
    let frame =
        Frame::from_u8(40, 30, (0..1200).map(|_| r.random_range(10..60)).collect()).unwrap();
    assert_eq!(reference::gain(&frame, true), 1.0);
    compare(
        &frame,
        ClassicParams {
            threshold: ThresholdRule::Fixed(5.0),
            ..Default::default()
        },
        "dark frame",
    );
}

#[test]
fn target_cluster_count_is_reached() {
    let frame = simulated(6, 320, 256);
    let params = ClassicParams {
        threshold: ThresholdRule::TargetClusters(60),
        ..Default::default()
    };
    compare(&frame, params, "target 60");
    let r = reference::run(&frame, &params);
    let big = r.clusters.iter().filter(|c| c.area >= 4).count();
    assert!(
        big.abs_diff(60) <= 6,
        "{big} clusters of area >= 4 for a target of 60"
    );
}

#[test]
fn fedra_kernel_is_zero_sum_and_dark_grains_are_positive() {
    for kernel in [
        FilterKernel::Fedra6x6,
        FilterKernel::Laplace3x3,
        FilterKernel::Ring5x5,
        FilterKernel::Hat5x5,
    ] {
        let (k, _, taps, _, _) = kernel.taps();
        assert_eq!(taps.len(), k * k);
        assert_eq!(taps.iter().sum::<i32>(), 0, "{kernel:?} is not zero-sum");
    }
    // A flat 200 frame with one dark 4×4 block of 100 at x, y ∈ 10..14.
    let mut data = vec![200u8; 30 * 30];
    for y in 10..14 {
        for x in 10..14 {
            data[y * 30 + x] = 100;
        }
    }
    let frame = Frame::from_u8(30, 30, data).unwrap();
    let r = reference::fir_filter(&frame, FilterKernel::Fedra6x6, true);
    // Taps span −3..+2: the inner 4×4 (offsets −2..+1) covers the block exactly at x = y = 12.
    // Median is 200, so the gain is 1.1: r = 1.1 · (−5 · 16 · 100 + 4 · 20 · 200) / 12 = 733.3.
    assert!(
        (r[12 * 30 + 12] - 733.333).abs() < 1e-2,
        "r = {}",
        r[12 * 30 + 12]
    );
    assert!(r[12 * 30 + 12] >= r.iter().fold(f32::MIN, |m, &v| m.max(v)));
    let result = reference::run(&frame, &ClassicParams::default());
    assert_eq!(result.clusters.len(), 1);
    // The block's centre is (12, 12); the even kernel's −0.5 shift makes the position refer to it.
    let c = &result.clusters[0];
    assert!(
        (c.cog_x - 12.0).abs() < 1e-9 && (c.cog_y - 12.0).abs() < 1e-9,
        "({}, {})",
        c.cog_x,
        c.cog_y
    );
}
